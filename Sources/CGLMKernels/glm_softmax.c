// glm_softmax.c — GLM's masked softmax over the last dimension, fused with the 1/sqrt(d) scale:
// P = softmax_K((scale·S)·M + (−65504)·(1 − M)). A fully blocked row is uniform, as in GLM. (One
// deviation from the formula: a blocked score that is ±Inf/NaN gives P = 0 there, not NaN from Inf·0.)
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

/// Walks the mask rows of flat rows r0, r0 + 1, ... of (B, H, Q): row r uses batch b = r / (H·Q) (or 0 when
/// Bm = 1) and query q = r % Q. Incremental, so the hot loop has no 64-bit divisions.
typedef struct {
    const float *base;
    size_t q, hq, b, Q, HQ, K, Bm;
} mask_walk;

static inline mask_walk mask_walk_at(const softmax_args *a, size_t r0) {
    size_t HQ = a->H * a->Q;
    mask_walk w = {a->mask, r0 % a->Q, r0 % HQ, r0 / HQ, a->Q, HQ, a->K, a->Bm};
    return w;
}

static inline const float *mask_walk_row(const mask_walk *w) {
    return w->base + ((w->Bm == 1 ? 0 : w->b) * w->Q + w->q) * w->K;
}

static inline void mask_walk_next(mask_walk *w) {
    if (++w->q == w->Q) w->q = 0;
    if (++w->hq == w->HQ) w->hq = 0, w->b++;
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
    mask_walk mw = mask_walk_at(a, r0);
    for (size_t r = r0; r < r1; r++, mask_walk_next(&mw)) {
        const float *s = a->in + r * K, *m = mask_walk_row(&mw);
        float *p = a->out + r * K;
        vf mx = ninf;
        const int next = r + 1 < r1; // prefetch the next row while this one is computed
        V_LOOP(c, k, K, { // v = (scale·s)·m + (−65504)·(1 − m), kept in p; its max
            if (next) v_prefetch(s + K + c), v_prefetchw(p + K + c);
            vf mv = v_ldk(m + c, k);
            vf v = v_fma(fill, v_sub(one, mv), v_mul(v_mul(vscale, v_ldk(s + c, k)), mv));
            v_stk(p + c, v, k);
            mx = v_max(mx, v_keep(v, k, ninf));
        });
        const float rmax = v_hmax(mx);
        const vf vmx = v_set1(rmax);
        // A blocked entry is −65504; once the row max is above −65504 + 88 its exp is exactly 0 (v_exp
        // flushes below −87.33), so whole vectors of blocked entries skip the exp (half of a causal mask).
        const int skip_blocked = rmax > GLMK_MASK_NEG + 88.0f;
        vf sum = zero;
        V_LOOP(c, k, K, {
            vf e = zero;
            if (!skip_blocked || !v_all_zero(v_ldk(m + c, k))) {
                e = v_exp(v_sub(v_ldk(p + c, k), vmx));
                sum = v_add(sum, v_keep(e, k, zero));
            }
            v_stk(p + c, e, k);
        });
        const vf inv = v_set1(1.0f / v_hsum(sum));
        V_LOOP(c, k, K, v_stk(p + c, v_mul(v_ldk(p + c, k), inv), k));
    }
}

static void NAME(softmax_bwd_rows)(const softmax_args *a, size_t r0, size_t r1) {
    const size_t K = a->K;
    const vf vscale = v_set1(a->scale);
    mask_walk mw = mask_walk_at(a, r0);
    for (size_t r = r0; r < r1; r++, mask_walk_next(&mw)) {
        const float *g = a->in + r * K, *p = a->P + r * K, *m = mask_walk_row(&mw);
        float *d = a->out + r * K;
        vf dot = v_zero(); // masked lanes load 0: they add 0
        const int next = r + 1 < r1; // prefetch the next row while this one is computed
        V_LOOP(c, k, K, {
            if (next) v_prefetch(g + K + c), v_prefetch(p + K + c);
            dot = v_fma(v_ldk(g + c, k), v_ldk(p + c, k), dot);
        });
        const vf vdot = v_set1(v_hsum(dot));
        V_LOOP(c, k, K, {
            vf sp = v_mul(v_mul(vscale, v_ldk(m + c, k)), v_ldk(p + c, k));
            v_stk(d + c, v_mul(sp, v_sub(v_ldk(g + c, k), vdot)), k);
        });
    }
}

#endif
