// glm_linear_bf16w.c — linear with bf16 weights in their PLAIN [out, in] layout, fp32 math:
// y = x·Wᵀ + bias, W[n, k] = bf16 bits widened to float (exact), x and accumulation float32.
//
// WHY a kernel of our own: a model converted to bf16 (`glm convert --dtype bf16`) is loaded memory-mapped
// and decoded straight from the file's bytes. oneDNN's packed weights would need a reordered copy (the
// whole model twice in memory for GLM-10B); its plain-layout bf16 matmul also rounds x to bf16. This
// kernel reads the mapped [out, in] rows as they are, so the weights live in the page cache only, and
// its result is the fp32 product of the bf16 values (the same function as a float32 model holding the
// widened values, up to summation order). Decoding is bandwidth-bound: a widening shift per 16 weights
// is free next to the DRAM read.
//
// Same structure as glm_linear_int8.c: weight rows are the outer loop (each weight byte read once for
// all M rows of x), threads split N, each y[m, n] is one in-order fp32 accumulation over k in vector
// chunks then a horizontal sum plus bias: its bits do not depend on the tiling or the thread count.
#ifndef GLMK_BF16W_PREFETCH
/// Prefetch distance in bytes of the weight rows (the int8 kernel's measured best).
#define GLMK_BF16W_PREFETCH 4096
#endif
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef void (*bf16w_rows_fn)(float *y, const float *x, const uint16_t *w, const float *bias,
                              size_t M, size_t N, size_t K, size_t n0, size_t n1);

#define GLMK_SELF "glm_linear_bf16w.c"
#include "glm_foreach_isa.h"

typedef struct {
    bf16w_rows_fn rows;
    float *y;
    const float *x;
    const uint16_t *w;
    const float *bias;
    size_t M, N, K;
} bf16w_job;

static void bf16w_range(void *ctx, size_t n0, size_t n1) {
    const bf16w_job *j = ctx;
    j->rows(j->y, j->x, j->w, j->bias, j->M, j->N, j->K, n0, n1);
}

// y (M, N) = x (M, K) · float(w)ᵀ (N, K) + bias (N) (bias may be NULL).
void glmk_linear_bf16w_forward(float *y, const float *x, const uint16_t *w, const float *bias,
                               size_t M, size_t N, size_t K) {
    if (M == 0 || N == 0) return;
    bf16w_job j = {GLMK_PICK(bf16w_rows), y, x, w, bias, M, N, K};
    // Work in "floats touched": a weight is half a float, plus x and y.
    glmk_parallel_for(N, N * K / 2 + M * K + M * N, 8, bf16w_range, &j);
}

void glmk_linear_bf16w_forward_ref(float *y, const float *x, const uint16_t *w, const float *bias,
                                   size_t M, size_t N, size_t K) {
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) {
                uint32_t u = (uint32_t)w[n * K + k] << 16;
                float f;
                memcpy(&f, &u, 4);
                s += (double)x[m * K + k] * (double)f;
            }
            y[m * N + n] = (float)(s + (bias ? bias[n] : 0.0));
        }
}

#else // ---- generic bodies, one compilation per ISA ----------------------------------------------------

// The bf16 → float loads of this ISA: VW weights, or the first n (< VW) with zeros after them.
#if GLMK_ISA == 0
static inline float NAME(ld_bf)(const uint16_t *p) {
    uint32_t u = (uint32_t)*p << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static inline float NAME(ldn_bf)(const uint16_t *p, size_t n) { return n ? NAME(ld_bf)(p) : 0.0f; }
#elif GLMK_ISA == 1
static inline __m256 NAME(ld_bf)(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline __m256 NAME(ldn_bf)(const uint16_t *p, size_t n) {
    uint16_t t[8] = {0};
    memcpy(t, p, n * 2);
    return NAME(ld_bf)(t);
}
#else
static inline __m512 NAME(ld_bf)(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
static inline __m512 NAME(ldn_bf)(const uint16_t *p, size_t n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(tailmask_512(n), p)), 16));
}
#endif

/// One tile: NR weight rows n..n+NR−1 × MT rows m..m+MT−1 of x, NR·MT accumulators in registers.
static inline __attribute__((always_inline)) void NAME(bf16w_tile)(
    float *y, const float *x, const uint16_t *w, const float *bias, size_t N, size_t K,
    size_t n, size_t m, const size_t NR, const size_t MT) {
    vf acc[4][8];
    for (size_t r = 0; r < NR; r++)
        for (size_t i = 0; i < MT; i++) acc[r][i] = v_zero();
    const uint16_t *wr = w + n * K;
    const float *xr = x + m * K;
    size_t k = 0;
    for (; k + VW <= K; k += VW) {
        // One prefetch per weight row and 64-byte line (32 bf16), GLMK_BF16W_PREFETCH bytes ahead.
        if (((k / VW) & (32 / VW - 1)) == 0)
            for (size_t r = 0; r < NR; r++) _mm_prefetch((const char *)(wr + r * K + k) + GLMK_BF16W_PREFETCH, _MM_HINT_T0);
        vf wv[4];
        for (size_t r = 0; r < NR; r++) wv[r] = NAME(ld_bf)(wr + r * K + k);
        for (size_t i = 0; i < MT; i++) {
            vf xv = v_ld(xr + i * K + k);
            for (size_t r = 0; r < NR; r++) acc[r][i] = v_fma(wv[r], xv, acc[r][i]);
        }
    }
    if (k < K) {
        size_t t = K - k;
        vf wv[4];
        for (size_t r = 0; r < NR; r++) wv[r] = NAME(ldn_bf)(wr + r * K + k, t);
        for (size_t i = 0; i < MT; i++) {
            vf xv = v_ldn(xr + i * K + k, t);
            for (size_t r = 0; r < NR; r++) acc[r][i] = v_fma(wv[r], xv, acc[r][i]);
        }
    }
    for (size_t r = 0; r < NR; r++)
        for (size_t i = 0; i < MT; i++) {
            float s = v_hsum(acc[r][i]);
            y[(m + i) * N + n + r] = bias ? s + bias[n + r] : s;
        }
}

static inline __attribute__((always_inline)) void NAME(bf16w_rowblock)(
    float *y, const float *x, const uint16_t *w, const float *bias, size_t M, size_t N, size_t K,
    size_t n, const size_t NR) {
    size_t m = 0;
#if GLMK_ISA >= 2
    // AVX-512's 32 registers hold 2 × 8 accumulators: each widened weight vector feeds 8 FMAs.
    if (NR <= 2)
        for (; m + 8 <= M; m += 8) NAME(bf16w_tile)(y, x, w, bias, N, K, n, m, NR, 8);
#endif
    if (NR <= 2)
        for (; m + 4 <= M; m += 4) NAME(bf16w_tile)(y, x, w, bias, N, K, n, m, NR, 4);
    for (; m + 2 <= M; m += 2) NAME(bf16w_tile)(y, x, w, bias, N, K, n, m, NR, 2);
    for (; m < M; m++) NAME(bf16w_tile)(y, x, w, bias, N, K, n, m, NR, 1);
}

/// Output columns [n0, n1): one weight row at a time for M = 1 (one memory stream), 4 for M = 2, 2 otherwise.
static void NAME(bf16w_rows)(float *y, const float *x, const uint16_t *w, const float *bias,
                             size_t M, size_t N, size_t K, size_t n0, size_t n1) {
    size_t n = n0;
    if (M == 1) {  // one weight row at a time: one contiguous memory stream per thread (see glm_linear_int8.c)
        for (; n < n1; n++) NAME(bf16w_tile)(y, x, w, bias, N, K, n, 0, 1, 1);
        return;
    }
    if (M <= 2)
        for (; n + 4 <= n1; n += 4) NAME(bf16w_rowblock)(y, x, w, bias, M, N, K, n, 4);
    for (; n + 2 <= n1; n += 2) NAME(bf16w_rowblock)(y, x, w, bias, M, N, K, n, 2);
    for (; n < n1; n++) NAME(bf16w_rowblock)(y, x, w, bias, M, N, K, n, 1);
}

#endif
