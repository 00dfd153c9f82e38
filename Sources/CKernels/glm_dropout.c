// glm_dropout.c — dropout on a counter-based RNG (Philox-4x32-10): element j's keep bit is a pure
// function of (seed, offset + j), so any split over threads gives the same mask, and the backward
// regenerates it instead of storing it.
#include "glm_internal.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void glmk_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3], k0 = key[0], k1 = key[1];
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0, n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c1 = (uint32_t)p1;
        c3 = (uint32_t)p0;
        c0 = n0;
        c2 = n2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/// y[i] = x[i]·keep(offset + i)·scale for i in [0, n), one Philox block at a time.
static void dropout_scalar(float *y, const float *x, size_t n, float p, float scale, uint64_t seed,
                           uint64_t offset) {
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    size_t i = 0;
    while (i < n) {
        uint64_t j = offset + i, block = j / 4;
        uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0}, w[4];
        glmk_philox4x32_10(w, ctr, key);
        for (unsigned lane = (unsigned)(j % 4); lane < 4 && i < n; lane++, i++) {
            float u = (float)(w[lane] >> 8) * 0x1p-24f;
            y[i] = u >= p ? x[i] * scale : 0.0f;
        }
    }
}

static void dropout_apply(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset) {
    if (n == 0) return;
    if (!(p > 0.0f)) { // p ≤ 0 (or NaN): identity
        if (y != x) memmove(y, x, n * sizeof(float));
        return;
    }
    if (p >= 1.0f) {
        memset(y, 0, n * sizeof(float));
        return;
    }
    dropout_scalar(y, x, n, p, 1.0f / (1.0f - p), seed, offset);
}

// x (n) → y (n); y may alias x.
void glmk_dropout_forward(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset) {
    dropout_apply(y, x, n, p, seed, offset);
}

// dy (n) → dx (n) with the same mask; dx may alias dy.
void glmk_dropout_backward(float *dx, const float *dy, size_t n, float p, uint64_t seed, uint64_t offset) {
    dropout_apply(dx, dy, n, p, seed, offset);
}
