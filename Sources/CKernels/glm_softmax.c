// glm_softmax.c — GLM's masked softmax over the last dimension, fused with the 1/sqrt(d) scale:
// P = softmax_K((scale·S)·M + (−65504)·(1 − M)). A fully blocked row is uniform, as in GLM.
#include "glm_internal.h"

/// mask row for flat row index `row` of (B, H, Q): batch b = row / (H·Q), query q = row % Q.
static inline const float *mask_row(const float *mask, size_t row, size_t H, size_t Q, size_t K,
                                    size_t Bm) {
    size_t b = row / (H * Q), q = row % Q;
    return mask + ((Bm == 1 ? 0 : b) * Q + q) * K;
}

// S, P (B, H, Q, K); mask (Bm, Q, K). P may alias S.
void glmk_masked_softmax_forward(float *P, const float *S, const float *mask, size_t B, size_t H,
                                 size_t Q, size_t K, size_t Bm, float scale) {
    if (K == 0) return;
    size_t rows = B * H * Q;
    for (size_t r = 0; r < rows; r++) {
        const float *s = S + r * K, *m = mask_row(mask, r, H, Q, K, Bm);
        float *p = P + r * K;
        float mx = -INFINITY;
        for (size_t k = 0; k < K; k++) {
            float v = (scale * s[k]) * m[k] + GLMK_MASK_NEG * (1.0f - m[k]);
            p[k] = v;
            mx = v > mx ? v : mx;
        }
        float sum = 0.0f;
        for (size_t k = 0; k < K; k++) {
            float e = expf(p[k] - mx);
            p[k] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (size_t k = 0; k < K; k++) p[k] *= inv;
    }
}

// dP, P (B, H, Q, K); mask (Bm, Q, K) → dS (B, H, Q, K) = scale·M·P·(dP − Σ_K dP·P). dS may alias dP.
void glmk_masked_softmax_backward(float *dS, const float *dP, const float *P, const float *mask,
                                  size_t B, size_t H, size_t Q, size_t K, size_t Bm, float scale) {
    if (K == 0) return;
    size_t rows = B * H * Q;
    for (size_t r = 0; r < rows; r++) {
        const float *g = dP + r * K, *p = P + r * K, *m = mask_row(mask, r, H, Q, K, Bm);
        float *d = dS + r * K;
        float dot = 0.0f;
        for (size_t k = 0; k < K; k++) dot += g[k] * p[k];
        for (size_t k = 0; k < K; k++) d[k] = scale * m[k] * p[k] * (g[k] - dot);
    }
}
