// glm_bf16.c — float32 ⇄ bfloat16 with round-to-nearest-even.
#include "glm_internal.h"

/// One float → bf16, round to nearest even on the bit pattern (exact for normals, denormals and the
/// max-finite → Inf carry); NaN keeps sign and top payload bits and is forced quiet.
static inline uint16_t f32_to_bf16_one(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

static void f32_to_bf16_scalar(uint16_t *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = f32_to_bf16_one(x[i]);
}

static void bf16_to_f32_scalar(float *y, const uint16_t *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)x[i] << 16;
        memcpy(&y[i], &u, 4);
    }
}

// x (n) → y (n)
void glmk_f32_to_bf16(uint16_t *y, const float *x, size_t n) { f32_to_bf16_scalar(y, x, n); }

// x (n) → y (n)
void glmk_bf16_to_f32(float *y, const uint16_t *x, size_t n) { bf16_to_f32_scalar(y, x, n); }
