// glm_dropout.c — dropout on a counter-based RNG (Philox-4x32-10). Element j's keep bit is a pure function
// of (seed, offset + j), so any split over threads gives the same mask, and the backward regenerates it
// instead of storing it. Vector bodies run VW Philox blocks at once (4·VW elements) and transpose the
// four output words into element order.
#ifndef GLMK_PASS
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

/// y[i] = keep(j0 + i) ? x[i]·scale : 0 for i < n, one Philox block at a time (heads, tails, counter wraps).
static void dropout_blocks_scalar(float *y, const float *x, size_t n, float p, float scale, uint64_t seed,
                                  uint64_t j0) {
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    size_t i = 0;
    while (i < n) {
        uint64_t j = j0 + i, block = j / 4;
        uint32_t ctr[4] = {(uint32_t)block, (uint32_t)(block >> 32), 0, 0}, w[4];
        glmk_philox4x32_10(w, ctr, key);
        for (unsigned lane = (unsigned)(j % 4); lane < 4 && i < n; lane++, i++) {
            float u = (float)(w[lane] >> 8) * 0x1p-24f;
            y[i] = u >= p ? x[i] * scale : 0.0f;
        }
    }
}

typedef void (*dropout_fn)(float *y, const float *x, size_t n, float p, float scale, uint64_t seed, uint64_t j0);

#define GLMK_SELF "glm_dropout.c"
#include "glm_foreach_isa.h"

typedef struct {
    dropout_fn fn;
    float *y;
    const float *x;
    float p, scale;
    uint64_t seed, offset;
} dropout_job;

static void dropout_range(void *ctx, size_t i0, size_t i1) {
    const dropout_job *j = ctx;
    j->fn(j->y + i0, j->x + i0, i1 - i0, j->p, j->scale, j->seed, j->offset + i0);
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
    dropout_job j = {GLMK_PICK(dropout_body), y, x, p, 1.0f / (1.0f - p), seed, offset};
    glmk_parallel_for(n, 8 * n, 64, dropout_range, &j);
}

// x (n) → y (n); y may alias x.
void glmk_dropout_forward(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset) {
    dropout_apply(y, x, n, p, seed, offset);
}

// dy (n) → dx (n) with the same mask; dx may alias dy.
void glmk_dropout_backward(float *dx, const float *dy, size_t n, float p, uint64_t seed, uint64_t offset) {
    dropout_apply(dx, dy, n, p, seed, offset);
}

#else // ---- generic bodies ------------------------------------------------------------------------------

/// Elements [0, n) with global indices j0 + i: a scalar head up to a block boundary, then VW blocks
/// (4·VW elements) per step, then a scalar tail.
static void NAME(dropout_body)(float *y, const float *x, size_t n, float p, float scale, uint64_t seed,
                               uint64_t j0) {
    size_t head = (size_t)((4 - j0 % 4) % 4);
    if (head > n) head = n;
    dropout_blocks_scalar(y, x, head, p, scale, seed, j0);
    const uint32_t key0 = (uint32_t)seed, key1 = (uint32_t)(seed >> 32);
    const vf vp = v_set1(p), vscale = v_set1(scale), unit = v_set1(0x1p-24f);
    size_t i = head;
    for (; i + 4 * VW <= n; i += 4 * VW) {
        uint64_t block = (j0 + i) / 4;
        if ((uint32_t)block > UINT32_MAX - (VW - 1)) { // low counter word wraps inside this group
            dropout_blocks_scalar(y + i, x + i, 4 * VW, p, scale, seed, j0 + i);
            continue;
        }
        vu c0 = v_u_add(v_u_set1((uint32_t)block), v_u_iota()), c1 = v_u_set1((uint32_t)(block >> 32));
        vu c2 = v_u_set1(0), c3 = v_u_set1(0);
        uint32_t k0 = key0, k1 = key1;
        for (int r = 0; r < 10; r++) {
            vu hi0, lo0, hi1, lo1;
            v_u_mulhilo(c0, PHILOX_M0, &hi0, &lo0);
            v_u_mulhilo(c2, PHILOX_M1, &hi1, &lo1);
            c0 = v_u_xor(v_u_xor(hi1, c1), v_u_set1(k0));
            c2 = v_u_xor(v_u_xor(hi0, c3), v_u_set1(k1));
            c1 = lo1;
            c3 = lo0;
            k0 += PHILOX_W0;
            k1 += PHILOX_W1;
        }
        vu w[4] = {c0, c1, c2, c3};
        v_u_transpose4(w); // w[q] = words of elements i + q·VW ... i + q·VW + VW − 1
        for (int q = 0; q < 4; q++) {
            vf u = v_mul(v_u_to_f(v_u_srl(w[q], 8)), unit);
            vf xv = v_ld(x + i + q * VW);
            v_st(y + i + q * VW, v_and_mask(v_ge(u, vp), v_mul(xv, vscale)));
        }
    }
    dropout_blocks_scalar(y + i, x + i, n - i, p, scale, seed, j0 + i);
}

#endif
