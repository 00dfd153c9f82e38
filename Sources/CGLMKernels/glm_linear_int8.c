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

// y (M, N) = x (M, K) · (scale[n]·q[n, k])ᵀ (N, K) + bias (N) (bias may be NULL).
void glmk_linear_int8w_forward(float *y, const float *x, const int8_t *q, const float *scale, const float *bias,
                               size_t M, size_t N, size_t K) {
    if (M == 0 || N == 0) return;
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

/// Output columns [n0, n1) of y: 4 weight rows at a time for M ≤ 2 (decode: more independent FMA chains),
/// 2 at a time otherwise (4 x rows × 2 weight rows = 8 accumulators, within AVX2's 16 registers).
static void NAME(int8w_rows)(float *y, const float *x, const int8_t *q, const float *scale, const float *bias,
                             size_t M, size_t N, size_t K, size_t n0, size_t n1) {
    size_t n = n0;
    if (M <= 2)
        for (; n + 4 <= n1; n += 4) NAME(int8w_rowblock)(y, x, q, scale, bias, M, N, K, n, 4);
    for (; n + 2 <= n1; n += 2) NAME(int8w_rowblock)(y, x, q, scale, bias, M, N, K, n, 2);
    for (; n < n1; n++) NAME(int8w_rowblock)(y, x, q, scale, bias, M, N, K, n, 1);
}

#endif
