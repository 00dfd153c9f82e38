// glm_gelu.c — tanh-GELU with GLM's constants, written through the sigmoid identity
// 0.5·(1 + tanh(u)) = 1/(1 + e^(−2u)), which stays accurate in both tails (no 1 + tanh cancellation).
#include "glm_internal.h"

#define GELU_K0 0.7978845608028654f
#define GELU_K1 0.044715f

// y (n) = 0.5·x·(1 + tanh(k0·x·(1 + k1·x²)))
void glmk_gelu_forward(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i], u = GELU_K0 * v * (1.0f + GELU_K1 * v * v);
        y[i] = v / (1.0f + expf(-2.0f * u));
    }
}

// dx (n) = dy · gelu'(x); gelu' = s + 2x·s(1−s)·k0·(1 + 3k1x²), s = 1/(1+e), s(1−s) = e·s².
void glmk_gelu_backward(float *dx, const float *dy, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i], u = GELU_K0 * v * (1.0f + GELU_K1 * v * v);
        float e = expf(-2.0f * u), s = 1.0f / (1.0f + e);
        float ss = isinf(e) ? 0.0f : e * s * s;
        float d = s + 2.0f * v * ss * GELU_K0 * (1.0f + 3.0f * GELU_K1 * v * v);
        dx[i] = dy[i] * d;
    }
}
