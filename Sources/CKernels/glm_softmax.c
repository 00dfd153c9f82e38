// glm_softmax.c — GLM's masked softmax over the last dimension, fused with the 1/sqrt(d) scale:
// P = softmax_K((scale·S)·M + (−65504)·(1 − M)). A fully blocked row is uniform, as in GLM.
// Rows are independent: threads split the B·H·Q rows; each row (K ≤ a few thousand) stays in L1.
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef struct {
    float *out;              // P (forward) or dS (backward)
    const float *in, *P;     // S (forward) or dP (backward); P (backward)
    const float *mask;
    size_t H, Q, K, Bm;
    float scale;
} softmax_args;

typedef void (*softmax_fn)(const softmax_args *a, size_t r0, size_t r1);

/// mask row for flat row index `row` of (B, H, Q): batch b = row / (H·Q), query q = row % Q.
static inline const float *mask_row(const softmax_args *a, size_t row) {
    size_t b = row / (a->H * a->Q), q = row % a->Q;
    return a->mask + ((a->Bm == 1 ? 0 : b) * a->Q + q) * a->K;
}

#define GLMK_SELF "glm_softmax.c"
#include "glm_foreach_isa.h"

typedef struct {
    softmax_fn fn;
    const softmax_args *args;
} softmax_job;

static void softmax_range(void *ctx, size_t r0, size_t r1) {
    const softmax_job *j = ctx;
    j->fn(j->args, r0, r1);
}

// S, P (B, H, Q, K); mask (Bm, Q, K). P may alias S.
void glmk_masked_softmax_forward(float *P, const float *S, const float *mask, size_t B, size_t H,
                                 size_t Q, size_t K, size_t Bm, float scale) {
    if (K == 0) return;
    size_t rows = B * H * Q;
    softmax_args a = {P, S, NULL, mask, H, Q, K, Bm, scale};
    softmax_job j = {GLMK_PICK(softmax_fwd_rows), &a};
    glmk_parallel_for(rows, 6 * rows * K, 1, softmax_range, &j);
}

// dP, P (B, H, Q, K); mask (Bm, Q, K) → dS (B, H, Q, K) = scale·M·P·(dP − Σ_K dP·P). dS may alias dP.
void glmk_masked_softmax_backward(float *dS, const float *dP, const float *P, const float *mask,
                                  size_t B, size_t H, size_t Q, size_t K, size_t Bm, float scale) {
    if (K == 0) return;
    size_t rows = B * H * Q;
    softmax_args a = {dS, dP, P, mask, H, Q, K, Bm, scale};
    softmax_job j = {GLMK_PICK(softmax_bwd_rows), &a};
    glmk_parallel_for(rows, 4 * rows * K, 1, softmax_range, &j);
}

#else // ---- generic bodies ------------------------------------------------------------------------------

static void NAME(softmax_fwd_rows)(const softmax_args *a, size_t r0, size_t r1) {
    const size_t K = a->K;
    const vf vscale = v_set1(a->scale), fill = v_set1(GLMK_MASK_NEG), one = v_set1(1.0f);
    const vf ninf = v_set1(-INFINITY), zero = v_zero();
    for (size_t r = r0; r < r1; r++) {
        const float *s = a->in + r * K, *m = mask_row(a, r);
        float *p = a->out + r * K;
        vf mx = ninf;
        V_LOOP(c, k, K, { // v = (scale·s)·m + (−65504)·(1 − m), kept in p; its max
            vf mv = v_ldk(m + c, k);
            vf v = v_fma(fill, v_sub(one, mv), v_mul(v_mul(vscale, v_ldk(s + c, k)), mv));
            v_stk(p + c, v, k);
            mx = v_max(mx, v_keep(v, k, ninf));
        });
        const vf vmx = v_set1(v_hmax(mx));
        vf sum = zero;
        V_LOOP(c, k, K, {
            vf e = v_exp(v_sub(v_ldk(p + c, k), vmx));
            v_stk(p + c, e, k);
            sum = v_add(sum, v_keep(e, k, zero));
        });
        const vf inv = v_set1(1.0f / v_hsum(sum));
        V_LOOP(c, k, K, v_stk(p + c, v_mul(v_ldk(p + c, k), inv), k));
    }
}

static void NAME(softmax_bwd_rows)(const softmax_args *a, size_t r0, size_t r1) {
    const size_t K = a->K;
    const vf vscale = v_set1(a->scale);
    for (size_t r = r0; r < r1; r++) {
        const float *g = a->in + r * K, *p = a->P + r * K, *m = mask_row(a, r);
        float *d = a->out + r * K;
        vf dot = v_zero(); // masked lanes load 0: they add 0
        V_LOOP(c, k, K, dot = v_fma(v_ldk(g + c, k), v_ldk(p + c, k), dot));
        const vf vdot = v_set1(v_hsum(dot));
        V_LOOP(c, k, K, {
            vf sp = v_mul(v_mul(vscale, v_ldk(m + c, k)), v_ldk(p + c, k));
            v_stk(d + c, v_mul(sp, v_sub(v_ldk(g + c, k), vdot)), k);
        });
    }
}

#endif
