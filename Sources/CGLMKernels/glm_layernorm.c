// glm_layernorm.c — LayerNorm over the last dimension: forward (saving mean/rstd) and backward.
//
// Forward: two passes over each row (mean, then Σ(x−μ)²; the row stays in L1), threads split the rows.
// Backward: dx row by row; dw/db are reductions over rows, so the rows are cut into a FIXED number of
// chunks that depends only on N (never on the thread count): each chunk sums its rows in order into its
// own partial, and the partials are added to dw/db in chunk order. Same bits for any thread count.
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef struct {
    float *y, *mean, *rstd;
    const float *x, *w, *b;
    size_t C;
    float eps;
} ln_fwd_args;

typedef struct {
    float *dx;
    const float *dy, *x, *w, *mean, *rstd;
    size_t N, C;
} ln_bwd_args;

typedef void (*ln_fwd_fn)(const ln_fwd_args *a, size_t r0, size_t r1);
typedef void (*ln_bwd_fn)(const ln_bwd_args *a, size_t r0, size_t r1, float *pdw, float *pdb);
typedef void (*ln_param_fn)(const ln_bwd_args *a, size_t r0, size_t r1, size_t c0, size_t c1, float *pdw,
                            float *pdb);

#define GLMK_SELF "glm_layernorm.c"
#include "glm_foreach_isa.h"

typedef struct {
    ln_fwd_fn fn;
    const ln_fwd_args *args;
} ln_fwd_job;

static void ln_fwd_range(void *ctx, size_t r0, size_t r1) {
    const ln_fwd_job *j = ctx;
    j->fn(j->args, r0, r1);
}

// x (N, C), w (C), b (C) → y (N, C); mean (N), rstd (N) optional.
void glmk_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                            const float *b, size_t N, size_t C, float eps) {
    if (C == 0) return;
    ln_fwd_args a = {y, mean, rstd, x, w, b, C, eps};
    ln_fwd_job j = {GLMK_PICK(ln_fwd_rows), &a};
    glmk_parallel_for(N, 2 * N * C, 1, ln_fwd_range, &j);
}

/// Rows per dw/db chunk: at most 16 chunks, a function of N only.
#define LN_MAX_CHUNKS 16
static size_t ln_chunk_rows(size_t N) { return (N + LN_MAX_CHUNKS - 1) / LN_MAX_CHUNKS; }

typedef struct {
    ln_bwd_fn fn;
    const ln_bwd_args *args;
    float *partials; // per chunk: dw partial (C) then db partial (C); NULL → dx only
    size_t chunk_rows;
} ln_bwd_job;

static void ln_bwd_chunks(void *ctx, size_t k0, size_t k1) {
    const ln_bwd_job *j = ctx;
    size_t C = j->args->C, N = j->args->N;
    for (size_t k = k0; k < k1; k++) {
        size_t r0 = k * j->chunk_rows, r1 = glmk_min(N, r0 + j->chunk_rows);
        float *p = j->partials ? j->partials + k * 2 * C : NULL;
        if (p) memset(p, 0, 2 * C * sizeof(float));
        j->fn(j->args, r0, r1, p, p ? p + C : NULL);
    }
}

// dy, x (N, C), w (C), mean, rstd (N) → dx (N, C) written; dw, db (C) accumulated.
void glmk_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const float *mean, const float *rstd, size_t N, size_t C) {
    if (C == 0 || N == 0) return;
    ln_bwd_args a = {dx, dy, x, w, mean, rstd, N, C};
    size_t rows = ln_chunk_rows(N), chunks = (N + rows - 1) / rows;
    float *partials = glmk_scratch_alloc(chunks * 2 * C * sizeof(float));
    ln_bwd_job j = {GLMK_PICK(ln_bwd_rows), &a, partials, rows};
    glmk_parallel_for(chunks, 4 * N * C, 1, ln_bwd_chunks, &j);
    if (partials) {
        for (size_t k = 0; k < chunks; k++) {
            glmk_add_inplace(dw, partials + k * 2 * C, C);
            glmk_add_inplace(db, partials + k * 2 * C + C, C);
        }
        free(partials);
        return;
    }
    // Out of memory for the partials: the same chunk sums, one column block at a time on the stack.
    ln_param_fn param = GLMK_PICK(ln_param_rows);
    float block[2 * 256];
    for (size_t k = 0; k < chunks; k++)
        for (size_t c0 = 0; c0 < C; c0 += 256) {
            size_t c1 = glmk_min(C, c0 + 256);
            memset(block, 0, sizeof block);
            param(&a, k * rows, glmk_min(N, (k + 1) * rows), c0, c1, block, block + 256);
            glmk_add_inplace(dw + c0, block, c1 - c0);
            glmk_add_inplace(db + c0, block + 256, c1 - c0);
        }
}

#else // ---- generic bodies ------------------------------------------------------------------------------

static void NAME(ln_fwd_rows)(const ln_fwd_args *a, size_t r0, size_t r1) {
    const size_t C = a->C;
    for (size_t r = r0; r < r1; r++) {
        const float *x = a->x + r * C;
        float *y = a->y + r * C;
        vf s0 = v_zero(), s1 = v_zero();
        size_t c = 0;
        const int next = r + 1 < r1; // prefetch the next row while this one is reduced
        for (; c + 2 * VW <= C; c += 2 * VW) {
            if (next) v_prefetch(x + C + c), v_prefetch(x + C + c + VW), v_prefetchw(y + C + c), v_prefetchw(y + C + c + VW);
            s0 = v_add(s0, v_ld(x + c)), s1 = v_add(s1, v_ld(x + c + VW));
        }
        for (; c < C; c += VW) s0 = v_add(s0, v_ldn(x + c, glmk_min(VW, C - c)));
        const float mu = v_hsum(v_add(s0, s1)) / (float)C;
        const vf vmu = v_set1(mu);
        vf q0 = v_zero(), q1 = v_zero();
        for (c = 0; c + 2 * VW <= C; c += 2 * VW) {
            vf d0 = v_sub(v_ld(x + c), vmu), d1 = v_sub(v_ld(x + c + VW), vmu);
            q0 = v_fma(d0, d0, q0), q1 = v_fma(d1, d1, q1);
        }
        for (; c < C; c += VW) { // missing lanes load μ, so they add 0
            vf d = v_sub(v_ldn_or(x + c, glmk_min(VW, C - c), vmu), vmu);
            q0 = v_fma(d, d, q0);
        }
        const float rs = 1.0f / sqrtf(v_hsum(v_add(q0, q1)) / (float)C + a->eps);
        const vf vrs = v_set1(rs);
        for (c = 0; c + VW <= C; c += VW)
            v_st(y + c, v_fma(v_mul(v_sub(v_ld(x + c), vmu), vrs), v_ld(a->w + c), v_ld(a->b + c)));
        if (c < C) {
            size_t k = C - c;
            vf xh = v_mul(v_sub(v_ldn(x + c, k), vmu), vrs);
            v_stn(y + c, v_fma(xh, v_ldn(a->w + c, k), v_ldn(a->b + c, k)), k);
        }
        if (a->mean) a->mean[r] = mu;
        if (a->rstd) a->rstd[r] = rs;
    }
}

/// pdw += dy·x̂, pdb += dy for one vector of columns. The same expression serves both paths below, so the
/// out-of-memory path gives the same bits.
#define LN_PARAM_STEP(pdw, pdb, g, xh, k)                        \
    do {                                                          \
        v_stk(pdw, v_fma((g), (xh), v_ldk(pdw, k)), k);           \
        v_stk(pdb, v_add(v_ldk(pdb, k), (g)), k);                 \
    } while (0)

static void NAME(ln_bwd_rows)(const ln_bwd_args *a, size_t r0, size_t r1, float *pdw, float *pdb) {
    const size_t C = a->C;
    const float invC = 1.0f / (float)C;
    for (size_t r = r0; r < r1; r++) {
        const float *x = a->x + r * C, *dy = a->dy + r * C, *w = a->w;
        float *dx = a->dx + r * C;
        const vf vmu = v_set1(a->mean[r]), vrs = v_set1(a->rstd[r]);
        vf sg = v_zero(), sgx = v_zero(); // Σ dy·w, Σ dy·w·x̂ (masked lanes load 0 and add 0)
        const int next = r + 1 < r1; // prefetch the next row while this one is reduced
        V_LOOP(c, k, C, {
            if (next) v_prefetch(x + C + c), v_prefetch(dy + C + c);
            vf g = v_ldk(dy + c, k), xh = v_mul(v_sub(v_ldk(x + c, k), vmu), vrs);
            vf gw = v_mul(g, v_ldk(w + c, k));
            sg = v_add(sg, gw);
            sgx = v_fma(gw, xh, sgx);
            if (pdw) LN_PARAM_STEP(pdw + c, pdb + c, g, xh, k);
        });
        const vf msg = v_set1(v_hsum(sg) * invC), msgx = v_set1(v_hsum(sgx) * invC);
        V_LOOP(c, k, C, {
            vf xh = v_mul(v_sub(v_ldk(x + c, k), vmu), vrs);
            vf t = v_fnma(xh, msgx, v_sub(v_mul(v_ldk(dy + c, k), v_ldk(w + c, k)), msg));
            v_stk(dx + c, v_mul(vrs, t), k);
        });
    }
}

/// The dw/db partials alone, for columns [c0, c1) (pdw/pdb hold c1 − c0 values).
static void NAME(ln_param_rows)(const ln_bwd_args *a, size_t r0, size_t r1, size_t c0, size_t c1, float *pdw,
                                float *pdb) {
    for (size_t r = r0; r < r1; r++) {
        const vf vmu = v_set1(a->mean[r]), vrs = v_set1(a->rstd[r]);
        const float *x = a->x + r * a->C + c0, *dy = a->dy + r * a->C + c0;
        V_LOOP(c, k, c1 - c0, {
            vf g = v_ldk(dy + c, k), xh = v_mul(v_sub(v_ldk(x + c, k), vmu), vrs);
            LN_PARAM_STEP(pdw + c, pdb + c, g, xh, k);
        });
    }
}
#undef LN_PARAM_STEP

#endif
