// glm_gelu.c — tanh-GELU with GLM's constants k0 = 0.7978845608028654, k1 = 0.044715.
//
// Computed through the identity 0.5·(1 + tanh u) = σ(2u) = 1/(1 + e), e = exp(−2u), u = k0·x·(1 + k1·x²):
// y = x/(1 + e). This needs one exp and stays accurate in both tails, where 1 + tanh(u) would cancel.
// Backward: gelu' = σ + 2x·σ(1−σ)·k0·(1 + 3k1x²); 1 − σ is taken as e·σ when e ≤ 1 and as 1 − σ when
// e > 1, so neither regime cancels and e = +Inf gives exactly 0 instead of Inf·0.
#ifndef GLMK_PASS
#include "glm_internal.h"

#define GELU_K0 0.7978845608028654f
#define GELU_K1 0.044715f

typedef void (*gelu_fwd_fn)(float *y, const float *x, size_t n);
typedef void (*gelu_bwd_fn)(float *dx, const float *dy, const float *x, size_t n);

#define GLMK_SELF "glm_gelu.c"
#include "glm_foreach_isa.h"

typedef struct {
    gelu_fwd_fn fwd;
    gelu_bwd_fn bwd;
    float *out;
    const float *dy, *x;
} gelu_job;

static void gelu_fwd_range(void *ctx, size_t i0, size_t i1) {
    const gelu_job *j = ctx;
    j->fwd(j->out + i0, j->x + i0, i1 - i0);
}

static void gelu_bwd_range(void *ctx, size_t i0, size_t i1) {
    const gelu_job *j = ctx;
    j->bwd(j->out + i0, j->dy + i0, j->x + i0, i1 - i0);
}

// x (n) → y (n)
void glmk_gelu_forward(float *y, const float *x, size_t n) {
    gelu_job j = {GLMK_PICK(gelu_fwd), NULL, y, NULL, x};
    glmk_parallel_for(n, 8 * n, 16, gelu_fwd_range, &j); // compute-heavier than a copy: weight 4×
}

// dy, x (n) → dx (n); dx may alias dy.
void glmk_gelu_backward(float *dx, const float *dy, const float *x, size_t n) {
    gelu_job j = {NULL, GLMK_PICK(gelu_bwd), dx, dy, x};
    glmk_parallel_for(n, 12 * n, 16, gelu_bwd_range, &j);
}

#else // ---- generic bodies ------------------------------------------------------------------------------

/// e = exp(−2u) for a vector of x.
static inline vf NAME(gelu_e)(vf x) {
    vf x2 = v_mul(x, x);
    return v_exp(v_mul(x, v_fma(v_set1(-2.0f * GELU_K0 * GELU_K1), x2, v_set1(-2.0f * GELU_K0))));
}

static void NAME(gelu_fwd)(float *y, const float *x, size_t n) {
    const vf one = v_set1(1.0f);
    V_LOOP(i, k, n, {
        if (i + GLMK_PF_DIST < n) v_prefetch(x + i + GLMK_PF_DIST);
        vf v = v_ldk(x + i, k);
        v_stk(y + i, v_div(v, v_add(one, NAME(gelu_e)(v))), k);
    });
}

static void NAME(gelu_bwd)(float *dx, const float *dy, const float *x, size_t n) {
    const vf one = v_set1(1.0f), c1 = v_set1(2.0f * GELU_K0), c3 = v_set1(6.0f * GELU_K0 * GELU_K1);
    V_LOOP(i, k, n, {
        if (i + GLMK_PF_DIST < n) v_prefetch(x + i + GLMK_PF_DIST), v_prefetch(dy + i + GLMK_PF_DIST);
        vf v = v_ldk(x + i, k), e = NAME(gelu_e)(v);
        vf s = v_div(one, v_add(one, e));
        vf one_minus_s = v_sel(v_gt(e, one), v_sub(one, s), v_mul(e, s));
        vf ss = v_mul(s, one_minus_s);
        // d = s + x·ss·(2k0 + 6k0k1·x²)
        vf d = v_fma(v_mul(v, ss), v_fma(c3, v_mul(v, v), c1), s);
        v_stk(dx + i, v_mul(v_ldk(dy + i, k), d), k);
    });
}

#endif
