// glm_layernorm.c — LayerNorm over the last dimension, forward (saving mean/rstd) and backward.
#include "glm_internal.h"

// x (N, C), w (C), b (C) → y (N, C); mean (N), rstd (N) optional.
void glmk_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                            const float *b, size_t N, size_t C, float eps) {
    if (C == 0) return;
    for (size_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        float *yr = y + n * C;
        float s = 0.0f;
        for (size_t c = 0; c < C; c++) s += xr[c];
        float mu = s / (float)C;
        float v = 0.0f;
        for (size_t c = 0; c < C; c++) v += (xr[c] - mu) * (xr[c] - mu);
        float rs = 1.0f / sqrtf(v / (float)C + eps);
        for (size_t c = 0; c < C; c++) yr[c] = (xr[c] - mu) * rs * w[c] + b[c];
        if (mean) mean[n] = mu;
        if (rstd) rstd[n] = rs;
    }
}

// dy, x (N, C), w (C), mean, rstd (N) → dx (N, C) written; dw, db (C) accumulated.
void glmk_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const float *mean, const float *rstd, size_t N, size_t C) {
    if (C == 0) return;
    for (size_t n = 0; n < N; n++) {
        const float *xr = x + n * C, *gr = dy + n * C;
        float mu = mean[n], rs = rstd[n];
        float sg = 0.0f, sgx = 0.0f; // Σ dy·w, Σ dy·w·x̂
        for (size_t c = 0; c < C; c++) {
            float xh = (xr[c] - mu) * rs, g = gr[c] * w[c];
            sg += g;
            sgx += g * xh;
            dw[c] += gr[c] * xh;
            db[c] += gr[c];
        }
        sg /= (float)C;
        sgx /= (float)C;
        for (size_t c = 0; c < C; c++) {
            float xh = (xr[c] - mu) * rs;
            dx[n * C + c] = rs * (gr[c] * w[c] - sg - xh * sgx);
        }
    }
}
