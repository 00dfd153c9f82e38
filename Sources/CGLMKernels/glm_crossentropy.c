// glm_crossentropy.c — log-softmax fused with cross-entropy. Forward: per row max, Σexp (the row is
// re-read from L2), lse. Backward: one streaming pass exp(x − lse)·dloss − onehot·dloss, elementwise, so
// it can run in place over the logits buffer and no second [N × V] buffer is ever needed.
// Rows are independent: threads split the rows. Targets outside [0, V) are "ignored" rows.
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef struct {
    float *loss, *lse, *dlogits;
    const float *logits, *lse_in, *dloss;
    const int32_t *targets;
    size_t V;
    int softmax_without_target; // backward: rows without a valid target get softmax·dloss (not zeros)
} ce_args;

typedef void (*ce_fn)(const ce_args *a, size_t r0, size_t r1);

static inline int target_valid(int32_t t, size_t V) { return t >= 0 && (size_t)t < V; }

#define GLMK_SELF "glm_crossentropy.c"
#include "glm_foreach_isa.h"

typedef struct {
    ce_fn fn;
    const ce_args *args;
} ce_job;

static void ce_range(void *ctx, size_t r0, size_t r1) {
    const ce_job *j = ctx;
    j->fn(j->args, r0, r1);
}

// logits (N, V), targets (N) → loss (N), lse (N, optional).
void glmk_cross_entropy_forward(float *loss, float *lse, const float *logits, const int32_t *targets,
                                size_t N, size_t V) {
    ce_args a = {loss, lse, NULL, logits, NULL, NULL, targets, V, 0};
    ce_job j = {GLMK_PICK(ce_fwd_rows), &a};
    glmk_parallel_for(N, 4 * N * V, 1, ce_range, &j);
}

// logits (N, V), lse, dloss (N), targets (N) → dlogits (N, V) = (softmax − onehot)·dloss; may alias logits.
void glmk_cross_entropy_backward(float *dlogits, const float *logits, const float *lse,
                                 const int32_t *targets, const float *dloss, size_t N, size_t V) {
    ce_args a = {NULL, NULL, dlogits, logits, lse, dloss, targets, V, 0};
    ce_job j = {GLMK_PICK(ce_bwd_rows), &a};
    glmk_parallel_for(N, 4 * N * V, 1, ce_range, &j);
}

// The vocabulary-parallel backward: logits are this rank's columns of the vocabulary, lse the GLOBAL
// log-Σ-exp; a row whose target lies in another rank's columns (target outside [0, V)) still gets
// softmax·dloss here, only the one-hot term is left out.
void glmk_cross_entropy_backward_columns(float *dlogits, const float *logits, const float *lse,
                                         const int32_t *targets, const float *dloss, size_t N, size_t V) {
    ce_args a = {NULL, NULL, dlogits, logits, lse, dloss, targets, V, 1};
    ce_job j = {GLMK_PICK(ce_bwd_rows), &a};
    glmk_parallel_for(N, 4 * N * V, 1, ce_range, &j);
}

#else // ---- generic bodies ------------------------------------------------------------------------------

static void NAME(ce_fwd_rows)(const ce_args *a, size_t r0, size_t r1) {
    const size_t V = a->V;
    const vf ninf = v_set1(-INFINITY), zero = v_zero();
    for (size_t r = r0; r < r1; r++) {
        const float *x = a->logits + r * V;
        vf m0 = ninf, m1 = ninf;
        size_t c = 0;
        for (; c + 2 * VW <= V; c += 2 * VW) {
            if (c + GLMK_PF_DIST < V) v_prefetch(x + c + GLMK_PF_DIST), v_prefetch(x + c + GLMK_PF_DIST + VW);
            m0 = v_max(m0, v_ld(x + c)), m1 = v_max(m1, v_ld(x + c + VW));
        }
        for (; c < V; c += VW) m0 = v_max(m0, v_ldn_or(x + c, glmk_min(VW, V - c), ninf));
        const float mx = v_hmax(v_max(m0, m1));
        const vf vmx = v_set1(mx);
        vf s0 = zero, s1 = zero;
        for (c = 0; c + 2 * VW <= V; c += 2 * VW) {
            s0 = v_add(s0, v_exp(v_sub(v_ld(x + c), vmx)));
            s1 = v_add(s1, v_exp(v_sub(v_ld(x + c + VW), vmx)));
        }
        for (; c < V; c += VW) // missing lanes load −Inf: exp gives 0
            s0 = v_add(s0, v_exp(v_sub(v_ldn_or(x + c, glmk_min(VW, V - c), ninf), vmx)));
        const float l = mx + logf(v_hsum(v_add(s0, s1)));
        if (a->lse) a->lse[r] = l;
        const int32_t t = a->targets[r];
        a->loss[r] = target_valid(t, V) ? l - x[t] : 0.0f;
    }
}

static void NAME(ce_bwd_rows)(const ce_args *a, size_t r0, size_t r1) {
    const size_t V = a->V;
    for (size_t r = r0; r < r1; r++) {
        const float *x = a->logits + r * V;
        float *d = a->dlogits + r * V;
        const int32_t t = a->targets[r];
        if (!target_valid(t, V) && !a->softmax_without_target) {
            memset(d, 0, V * sizeof(float));
            continue;
        }
        const float g = a->dloss[r];
        const vf vl = v_set1(a->lse_in[r]), vg = v_set1(g);
        V_LOOP(c, k, V, {
            if (c + GLMK_PF_DIST < V) v_prefetch(x + c + GLMK_PF_DIST);
            v_stk(d + c, v_mul(v_exp(v_sub(v_ldk(x + c, k), vl)), vg), k);
        });
        if (target_valid(t, V)) d[t] -= g;
    }
}

#endif
