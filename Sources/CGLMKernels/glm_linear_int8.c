// glm_linear_int8.c — weight-only int8 linear for decoding: y = x·(scale ⊙ q)ᵀ + bias, fp32 math.
//
// Decoding reads every weight once per token, so its speed is bytes of weights ÷ memory bandwidth; int8
// weights read a quarter of fp32's bytes. oneDNN 2.6 has no weight-only int8 product, hence this kernel.
// Weights are quantised per output channel, symmetric: w[n, k] ≈ scale[n]·q[n, k], q ∈ [−127, 127].
// The activations stay float32 (no int8 activations, no VNNI): each 16 (AVX-512) or 8 (AVX2) int8 weights
// are widened (cvtepi8_epi32), converted to float and FMA'd against x. Rows of W are the OUTER loop, so
// each weight byte is read from memory once for all M rows of x (M is 1–8 in decoding; larger M, the
// prefill, runs the same loop with x tiles re-read from cache). Threads split N.
//
// Every output y[m, n] is ONE fp32 accumulation over k in vector chunks in order, then a horizontal sum,
// times scale[n], plus bias[n]: its bits do not depend on the tiling or the thread count.
#ifndef GLMK_INT8W_PREFETCH
/// Prefetch distance in bytes of the weight rows (measured: 4096 best of 512…8192 on the dev VM).
#define GLMK_INT8W_PREFETCH 4096
#endif
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef void (*int8w_rows_fn)(float *y, const float *x, const int8_t *q, const float *scale, const float *bias,
                              size_t M, size_t N, size_t K, size_t n0, size_t n1);

#define GLMK_SELF "glm_linear_int8.c"
#include "glm_foreach_isa.h"

typedef struct {
    int8w_rows_fn rows;
    float *y;
    const float *x;
    const int8_t *q;
    const float *scale, *bias;
    size_t M, N, K;
} int8w_job;

static void int8w_range(void *ctx, size_t n0, size_t n1) {
    const int8w_job *j = ctx;
    j->rows(j->y, j->x, j->q, j->scale, j->bias, j->M, j->N, j->K, n0, n1);
}

// ---- AVX512_BF16: int8 weights × bf16 activations on vdpbf16ps ------------------------------------------
// With native bf16 the product runs on bf16 dot products: each int8 weight is exactly a bf16 value, x is
// rounded to bf16 once per call (vcvtne2ps2bf16: round to nearest even, denormals to zero), and
// vdpbf16ps accumulates pairs of exact products in fp32. One instruction does 32 multiply-adds instead of
// 16, so batched decoding (M = 4–8 rows, compute-bound in fp32) runs ~1.5× faster; M = 1 stays
// bandwidth-bound. Like oneDNN's bf16 products, x loses its low mantissa bits; every output is still one
// accumulation in a fixed order, independent of the thread count and of M.
#define I8BF_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma")))

typedef struct {
    float *y;
    const uint16_t *xb;  // M rows of Kp bf16 values (zero-padded to a multiple of 32), or NULL: convert in place
    const float *x;
    const int8_t *q;
    const float *scale, *bias;
    size_t M, N, K, Kp;
} i8bf_job;

/// 32 int8 weights (the first `t` when t < 32, zeros after) as 32 bf16 values, exact.
I8BF_TARGET static inline __m512bh i8bf_weights(const int8_t *p, size_t t) {
    __m128i lo, hi;
    if (t >= 32) {
        lo = _mm_loadu_si128((const __m128i *)p);
        hi = _mm_loadu_si128((const __m128i *)(p + 16));
    } else {
        lo = _mm_maskz_loadu_epi8((__mmask16)(t >= 16 ? 0xFFFFu : (1u << t) - 1u), p);
        hi = t > 16 ? _mm_maskz_loadu_epi8((__mmask16)((1u << (t - 16)) - 1u), p + 16) : _mm_setzero_si128();
    }
    return _mm512_cvtne2ps_pbh(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi)), _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo)));
}

/// 32 values of x (the first `t` when t < 32, zeros after) rounded to bf16: the same bits as the per-call copy.
I8BF_TARGET static inline __m512bh i8bf_x(const float *p, size_t t) {
    __m512 lo, hi;
    if (t >= 32) {
        lo = _mm512_loadu_ps(p);
        hi = _mm512_loadu_ps(p + 16);
    } else {
        lo = _mm512_maskz_loadu_ps((__mmask16)(t >= 16 ? 0xFFFFu : (1u << t) - 1u), p);
        hi = t > 16 ? _mm512_maskz_loadu_ps((__mmask16)((1u << (t - 16)) - 1u), p + 16) : _mm512_setzero_ps();
    }
    return _mm512_cvtne2ps_pbh(hi, lo);
}

/// One tile: NR weight rows × MT rows of x, NR·MT fp32 accumulators; k in chunks of 32 in order.
I8BF_TARGET static inline __attribute__((always_inline)) void i8bf_tile(const i8bf_job *j, size_t n, size_t m,
                                                                        const size_t NR, const size_t MT) {
    const size_t K = j->K, Kp = j->Kp;
    __m512 acc[2][8];
    for (size_t r = 0; r < NR; r++)
        for (size_t i = 0; i < MT; i++) acc[r][i] = _mm512_setzero_ps();
    const int8_t *qr = j->q + n * K;
    for (size_t k = 0; k < K; k += 32) {
        const size_t t = K - k;
        for (size_t r = 0; r < NR; r++) _mm_prefetch((const char *)(qr + r * K + k + GLMK_INT8W_PREFETCH), _MM_HINT_T0);
        __m512bh w[2];
        for (size_t r = 0; r < NR; r++) w[r] = i8bf_weights(qr + r * K + k, t);
        for (size_t i = 0; i < MT; i++) {
            const __m512bh xv = j->xb ? (__m512bh)_mm512_loadu_si512((const void *)(j->xb + (m + i) * Kp + k))
                                      : i8bf_x(j->x + (m + i) * K + k, t);
            for (size_t r = 0; r < NR; r++) acc[r][i] = _mm512_dpbf16_ps(acc[r][i], xv, w[r]);
        }
    }
    for (size_t r = 0; r < NR; r++)
        for (size_t i = 0; i < MT; i++) {
            float v = _mm512_reduce_add_ps(acc[r][i]) * j->scale[n + r];
            j->y[(m + i) * j->N + n + r] = j->bias ? v + j->bias[n + r] : v;
        }
}

/// Output columns [n0, n1): pairs of weight rows (then one) × x rows in tiles of 8, 4, 2, 1.
I8BF_TARGET static void i8bf_range(void *ctx, size_t n0, size_t n1) {
    const i8bf_job *j = ctx;
    if (j->M == 1) {  // one weight row at a time: one memory stream per thread (see int8w_rows)
        for (size_t n = n0; n < n1; n++) i8bf_tile(j, n, 0, 1, 1);
        return;
    }
    for (size_t n = n0; n < n1;) {
        const size_t nr = n + 2 <= n1 ? 2 : 1;
        size_t m = 0;
        if (nr == 2) {
            for (; m + 8 <= j->M; m += 8) i8bf_tile(j, n, m, 2, 8);
            for (; m + 4 <= j->M; m += 4) i8bf_tile(j, n, m, 2, 4);
            for (; m < j->M; m++) i8bf_tile(j, n, m, 2, 1);
        } else {
            for (; m + 8 <= j->M; m += 8) i8bf_tile(j, n, m, 1, 8);
            for (; m < j->M; m++) i8bf_tile(j, n, m, 1, 1);
        }
        n += nr;
    }
}

/// x (M, K) → M rows of Kp bf16 values, zero-padded (vcvtne2ps2bf16, as i8bf_x).
I8BF_TARGET static void i8bf_round_x(uint16_t *xb, const float *x, size_t M, size_t K, size_t Kp) {
    for (size_t m = 0; m < M; m++)
        for (size_t k = 0; k < Kp; k += 32) {
            const size_t t = k < K ? K - k : 0;
            _mm512_storeu_si512((void *)(xb + m * Kp + k), (__m512i)(t ? i8bf_x(x + m * K + k, t) : (__m512bh)_mm512_setzero_si512()));
        }
}

static void int8w_forward_bf16dot(float *y, const float *x, const int8_t *q, const float *scale, const float *bias,
                                  size_t M, size_t N, size_t K) {
    const size_t Kp = (K + 31) / 32 * 32;
    uint16_t *xb = glmk_scratch_alloc(M * Kp * sizeof(uint16_t));  // NULL: each tile rounds x itself, same bits
    if (xb) i8bf_round_x(xb, x, M, K, Kp);
    i8bf_job j = {y, xb, x, q, scale, bias, M, N, K, Kp};
    glmk_parallel_for(N, N * K / 4 + M * K + M * N, 2, i8bf_range, &j);
    free(xb);
}

// y (M, N) = x (M, K) · (scale[n]·q[n, k])ᵀ (N, K) + bias (N) (bias may be NULL).
void glmk_linear_int8w_forward(float *y, const float *x, const int8_t *q, const float *scale, const float *bias,
                               size_t M, size_t N, size_t K) {
    if (M == 0 || N == 0) return;
    if (glmk_level() >= GLMK_AVX512BF16 && K > 0) {
        int8w_forward_bf16dot(y, x, q, scale, bias, M, N, K);
        return;
    }
    int8w_job j = {GLMK_PICK(int8w_rows), y, x, q, scale, bias, M, N, K};
    // Work in "floats touched": the weight bytes dominate (a quarter of a float each) plus x and y.
    glmk_parallel_for(N, N * K / 4 + M * K + M * N, 8, int8w_range, &j);
}

typedef struct {
    int8_t *q;
    float *scale;
    const float *w;
    size_t K;
} quant_job;

static void quant_range(void *ctx, size_t n0, size_t n1) {
    const quant_job *j = ctx;
    for (size_t n = n0; n < n1; n++) {
        const float *w = j->w + n * j->K;
        int8_t *q = j->q + n * j->K;
        float amax = 0.0f;
        for (size_t k = 0; k < j->K; k++) amax = fmaxf(amax, fabsf(w[k]));
        float s = amax / 127.0f;
        j->scale[n] = s;
        for (size_t k = 0; k < j->K; k++) {
            float r = s > 0.0f ? rintf(w[k] / s) : 0.0f;
            q[k] = (int8_t)(r > 127.0f ? 127.0f : r < -127.0f ? -127.0f : r);
        }
    }
}

// w (N, K) → q (N, K) int8, scale (N): scale[n] = max_k |w[n, k]| / 127, q = round-half-even(w / scale)
// clamped to [−127, 127] (an all-zero row gets scale 0, q 0). Plain C on purpose: it runs once per weight
// at packing time, and its result must equal glmk_quantize_int8_rows_ref exactly. Rows split over threads.
void glmk_quantize_int8_rows(int8_t *q, float *scale, const float *w, size_t N, size_t K) {
    if (N == 0) return;
    quant_job j = {q, scale, w, K};
    glmk_parallel_for(N, 2 * N * K, 1, quant_range, &j);
}

#else // ---- generic bodies, one compilation per ISA ----------------------------------------------------

// The int8 → float loads of this ISA: VW weights, or the first n (< VW) with zeros after them.
#if GLMK_ISA == 0
static inline float NAME(ld_i8)(const int8_t *p) { return (float)*p; }
static inline float NAME(ldn_i8)(const int8_t *p, size_t n) { return n ? (float)*p : 0.0f; }
#elif GLMK_ISA == 1
static inline __m256 NAME(ld_i8)(const int8_t *p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}
static inline __m256 NAME(ldn_i8)(const int8_t *p, size_t n) {
    int64_t t = 0;
    memcpy(&t, p, n);
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(t)));
}
#else
static inline __m512 NAME(ld_i8)(const int8_t *p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}
static inline __m512 NAME(ldn_i8)(const int8_t *p, size_t n) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(tailmask_512(n), p)));
}
#endif

/// One tile: NR weight rows n..n+NR−1 × MT rows m..m+MT−1 of x, NR·MT accumulators in registers.
/// Called with constant NR, MT (inlined and unrolled per call site).
static inline __attribute__((always_inline)) void NAME(int8w_tile)(
    float *y, const float *x, const int8_t *q, const float *scale, const float *bias, size_t N, size_t K,
    size_t n, size_t m, const size_t NR, const size_t MT) {
    vf acc[4][8];
    for (size_t r = 0; r < NR; r++)
        for (size_t i = 0; i < MT; i++) acc[r][i] = v_zero();
    const int8_t *qr = q + n * K;
    const float *xr = x + m * K;
    size_t k = 0;
    for (; k + VW <= K; k += VW) {
        // One software prefetch per weight row and cache line, GLMK_INT8W_PREFETCH bytes ahead (prefetches
        // never fault, also past the end): +15–25 % of the DRAM bandwidth this loop gets on its own.
        if (((k / VW) & (64 / VW - 1)) == 0)
            for (size_t r = 0; r < NR; r++) _mm_prefetch((const char *)(qr + r * K + k + GLMK_INT8W_PREFETCH), _MM_HINT_T0);
        vf w[4];
        for (size_t r = 0; r < NR; r++) w[r] = NAME(ld_i8)(qr + r * K + k);
        for (size_t i = 0; i < MT; i++) {
            vf xv = v_ld(xr + i * K + k);
            for (size_t r = 0; r < NR; r++) acc[r][i] = v_fma(w[r], xv, acc[r][i]);
        }
    }
    if (k < K) {
        size_t t = K - k;
        vf w[4];
        for (size_t r = 0; r < NR; r++) w[r] = NAME(ldn_i8)(qr + r * K + k, t);
        for (size_t i = 0; i < MT; i++) {
            vf xv = v_ldn(xr + i * K + k, t);
            for (size_t r = 0; r < NR; r++) acc[r][i] = v_fma(w[r], xv, acc[r][i]);
        }
    }
    for (size_t r = 0; r < NR; r++)
        for (size_t i = 0; i < MT; i++) {
            float s = v_hsum(acc[r][i]) * scale[n + r];
            y[(m + i) * N + n + r] = bias ? s + bias[n + r] : s;
        }
}

/// x rows in tiles of 8 (AVX-512, NR ≤ 2), 4, 2, 1 for the weight rows n..n+NR−1.
static inline __attribute__((always_inline)) void NAME(int8w_rowblock)(
    float *y, const float *x, const int8_t *q, const float *scale, const float *bias, size_t M, size_t N,
    size_t K, size_t n, const size_t NR) {
    size_t m = 0;
#if GLMK_ISA >= 2
    // AVX-512's 32 registers hold 2 × 8 accumulators: each widened weight vector feeds 8 FMAs.
    if (NR <= 2)
        for (; m + 8 <= M; m += 8) NAME(int8w_tile)(y, x, q, scale, bias, N, K, n, m, NR, 8);
#endif
    if (NR <= 2)
        for (; m + 4 <= M; m += 4) NAME(int8w_tile)(y, x, q, scale, bias, N, K, n, m, NR, 4);
    for (; m + 2 <= M; m += 2) NAME(int8w_tile)(y, x, q, scale, bias, N, K, n, m, NR, 2);
    for (; m < M; m++) NAME(int8w_tile)(y, x, q, scale, bias, N, K, n, m, NR, 1);
}

/// Output columns [n0, n1) of y: one weight row at a time for M = 1, 4 for M = 2 (more independent FMA
/// chains), 2 at a time otherwise (4 x rows × 2 weight rows = 8 accumulators, within AVX2's 16 registers).
static void NAME(int8w_rows)(float *y, const float *x, const int8_t *q, const float *scale, const float *bias,
                             size_t M, size_t N, size_t K, size_t n0, size_t n1) {
    size_t n = n0;
    if (M == 1) {
        // Decoding one row: weight rows one after another, so each thread reads ONE contiguous stream
        // (rows are consecutive in memory). Four rows at a time are four interleaved streams, which this
        // machine kind's prefetchers serve at ~21 GB/s against ~31–35 for one (C harness, 2 threads,
        // the base model's 108 MB of int8 matrices): 1.5× at batch 1. Same sums (one chain per output).
        for (; n < n1; n++) NAME(int8w_tile)(y, x, q, scale, bias, N, K, n, 0, 1, 1);
        return;
    }
    if (M <= 2)
        for (; n + 4 <= n1; n += 4) NAME(int8w_rowblock)(y, x, q, scale, bias, M, N, K, n, 4);
    for (; n + 2 <= n1; n += 2) NAME(int8w_rowblock)(y, x, q, scale, bias, M, N, K, n, 2);
    for (; n < n1; n++) NAME(int8w_rowblock)(y, x, q, scale, bias, M, N, K, n, 1);
}

#endif
