// glm_attention.c — multi-head attention one (batch, head) at a time, so that each head's score matrix
// (Q×K floats: 1 MB at S = 512) is produced, soft-maxed and consumed while it sits in the core's L2 cache,
// instead of three passes over a [B, H, Q, K] tensor in memory between batched products.
//
// Threads: the B·H heads are split over the OpenMP threads; each head's products run single-threaded
// through the caller's GEMM (oneDNN's sgemm runs sequentially inside a parallel region), and the softmax
// and dropout kernels run inline there (glmk_parallel_for does not nest). Every head's result is computed
// by one thread in a fixed order, so results do not depend on the thread count.
#include "glm_internal.h"

extern int omp_get_thread_num(void);

typedef struct {
    const glmk_attention_args *a;
    float *P, *Pdrop, *ctx;                 // forward
    const float *cP, *cPdrop, *dctx;        // backward
    float *dq, *dk, *dv, beta_q, beta_k, beta_v;
    float *scratch;                         // backward: Q·K floats per thread
    size_t scratch_slots;
    volatile int status;
} attention_job;

/// Stream position of the dropout mask of task t = (batch b, head h): the tasks' blocks in (B, H) order,
/// or, with dropout_H set (tensor model parallelism: these H heads are heads dropout_h0 ..< dropout_h0 + H
/// of dropout_H), where that head's block lies in the stream of all dropout_H heads.
static inline uint64_t dropout_offset(const glmk_attention_args *a, size_t t) {
    size_t QK = a->Q * a->K;
    size_t slot = a->dropout_H ? (t / a->H) * a->dropout_H + a->dropout_h0 + t % a->H : t;
    return a->offset + (uint64_t)slot * QK;
}

static const float *row_block(const float *base, size_t batch_stride, size_t b, size_t h, size_t D) {
    return base + b * batch_stride + h * D;
}

static void forward_heads(void *ctx, size_t t0, size_t t1) {
    attention_job *j = ctx;
    const glmk_attention_args *a = j->a;
    const size_t QK = a->Q * a->K;
    for (size_t t = t0; t < t1 && j->status == 0; t++) {
        size_t b = t / a->H, h = t % a->H;
        const float *q = row_block(a->q, a->q_batch, b, h, a->D), *k = row_block(a->k, a->k_batch, b, h, a->D);
        const float *v = row_block(a->v, a->v_batch, b, h, a->D);
        float *S = j->P + t * QK;
        const float *mask = a->mask + (a->Bm == 1 ? 0 : b) * QK;
        // S (Q, K) = Q_bh (Q, D) · K_bhᵀ; P = masked softmax of S, in place.
        int rc = a->gemm(0, 1, (int64_t)a->Q, (int64_t)a->K, (int64_t)a->D, 1.0f, q, (int64_t)a->q_row, k,
                         (int64_t)a->k_row, 0.0f, S, (int64_t)a->K);
        if (rc) { j->status = rc; return; }
        glmk_masked_softmax_forward(S, S, mask, 1, 1, a->Q, a->K, 1, a->scale);
        const float *used = S;
        if (j->Pdrop) {
            float *d = j->Pdrop + t * QK;
            glmk_dropout_forward(d, S, QK, a->dropout_p, a->seed, dropout_offset(a, t));
            used = d;
        }
        // ctx_bh (Q, D) = P' (Q, K) · V_bh (K, D)
        float *c = j->ctx + b * a->ctx_batch + h * a->D;
        rc = a->gemm(0, 0, (int64_t)a->Q, (int64_t)a->D, (int64_t)a->K, 1.0f, used, (int64_t)a->K, v,
                     (int64_t)a->v_row, 0.0f, c, (int64_t)a->ctx_row);
        if (rc) { j->status = rc; return; }
    }
}

static void backward_heads(void *ctx, size_t t0, size_t t1) {
    attention_job *j = ctx;
    const glmk_attention_args *a = j->a;
    const size_t QK = a->Q * a->K;
    size_t slot = (size_t)omp_get_thread_num();
    if (slot >= j->scratch_slots) { j->status = -3; return; }
    float *dP = j->scratch + slot * QK;
    for (size_t t = t0; t < t1 && j->status == 0; t++) {
        size_t b = t / a->H, h = t % a->H;
        const float *q = row_block(a->q, a->q_batch, b, h, a->D), *k = row_block(a->k, a->k_batch, b, h, a->D);
        const float *v = row_block(a->v, a->v_batch, b, h, a->D);
        const float *dc = j->dctx + b * a->ctx_batch + h * a->D;
        const float *P = j->cP + t * QK, *used = j->cPdrop ? j->cPdrop + t * QK : P;
        const float *mask = a->mask + (a->Bm == 1 ? 0 : b) * QK;
        int rc;
        // dP (Q, K) = dctx_bh (Q, D) · V_bhᵀ
        rc = a->gemm(0, 1, (int64_t)a->Q, (int64_t)a->K, (int64_t)a->D, 1.0f, dc, (int64_t)a->ctx_row, v,
                     (int64_t)a->v_row, 0.0f, dP, (int64_t)a->K);
        if (rc) { j->status = rc; return; }
        if (j->dv) {  // dV_bh (K, D) = P'ᵀ · dctx_bh
            float *g = j->dv + b * a->v_batch + h * a->D;
            rc = a->gemm(1, 0, (int64_t)a->K, (int64_t)a->D, (int64_t)a->Q, 1.0f, used, (int64_t)a->K, dc,
                         (int64_t)a->ctx_row, j->beta_v, g, (int64_t)a->v_row);
            if (rc) { j->status = rc; return; }
        }
        if (j->cPdrop) glmk_dropout_backward(dP, dP, QK, a->dropout_p, a->seed, dropout_offset(a, t));
        glmk_masked_softmax_backward(dP, dP, P, mask, 1, 1, a->Q, a->K, 1, a->scale);
        if (j->dq) {  // dQ_bh (Q, D) = dS · K_bh
            float *g = j->dq + b * a->q_batch + h * a->D;
            rc = a->gemm(0, 0, (int64_t)a->Q, (int64_t)a->D, (int64_t)a->K, 1.0f, dP, (int64_t)a->K, k,
                         (int64_t)a->k_row, j->beta_q, g, (int64_t)a->q_row);
            if (rc) { j->status = rc; return; }
        }
        if (j->dk) {  // dK_bh (K, D) = dSᵀ · Q_bh
            float *g = j->dk + b * a->k_batch + h * a->D;
            rc = a->gemm(1, 0, (int64_t)a->K, (int64_t)a->D, (int64_t)a->Q, 1.0f, dP, (int64_t)a->K, q,
                         (int64_t)a->q_row, j->beta_k, g, (int64_t)a->k_row);
            if (rc) { j->status = rc; return; }
        }
    }
}

// ---- bf16 mixed precision: same steps, operands rounded to bf16 into the thread's dense scratch ----------
size_t glmk_attention_bf16_slot(size_t Q, size_t K, size_t D) { return 2 * Q * D + 2 * K * D + Q * K; }

/// The thread's bf16 scratch: Q_h (Q·D), K_h and V_h (K·D each), dctx_h (Q·D) and one Q·K matrix (P' or dS).
typedef struct { uint16_t *q, *k, *v, *dc, *qk; } bf16_slot;

static int bf16_scratch(attention_job *j, bf16_slot *s) {
    const glmk_attention_args *a = j->a;
    size_t slot = (size_t)omp_get_thread_num();
    if (slot >= a->bf16_slots) return -3;
    uint16_t *base = a->bf16_scratch + slot * glmk_attention_bf16_slot(a->Q, a->K, a->D);
    s->q = base; s->k = s->q + a->Q * a->D; s->v = s->k + a->K * a->D; s->dc = s->v + a->K * a->D;
    s->qk = s->dc + a->Q * a->D;
    return 0;
}

/// Rounds head (b, h) of Q, K and V to dense bf16 (Q, D), (K, D), (K, D) in the slot.
static void bf16_heads(const glmk_attention_args *a, size_t b, size_t h, const bf16_slot *s) {
    glmk_f32_to_bf16_rows(s->q, row_block(a->q, a->q_batch, b, h, a->D), a->Q, a->D, a->q_row);
    glmk_f32_to_bf16_rows(s->k, row_block(a->k, a->k_batch, b, h, a->D), a->K, a->D, a->k_row);
    glmk_f32_to_bf16_rows(s->v, row_block(a->v, a->v_batch, b, h, a->D), a->K, a->D, a->v_row);
}

static void forward_heads_bf16(void *ctx, size_t t0, size_t t1) {
    attention_job *j = ctx;
    const glmk_attention_args *a = j->a;
    const size_t QK = a->Q * a->K;
    const int64_t Q = (int64_t)a->Q, K = (int64_t)a->K, D = (int64_t)a->D;
    bf16_slot s;
    if (bf16_scratch(j, &s)) { j->status = -3; return; }
    for (size_t t = t0; t < t1 && j->status == 0; t++) {
        size_t b = t / a->H, h = t % a->H;
        bf16_heads(a, b, h, &s);
        float *S = j->P + t * QK;
        const float *mask = a->mask + (a->Bm == 1 ? 0 : b) * QK;
        int rc = a->gemm_bf16(0, 1, Q, K, D, s.q, D, s.k, D, 0.0f, S, K);  // S = Q_h·K_hᵀ
        if (rc) { j->status = rc; return; }
        glmk_masked_softmax_forward(S, S, mask, 1, 1, a->Q, a->K, 1, a->scale);
        const float *used = S;
        if (j->Pdrop) {
            float *d = j->Pdrop + t * QK;
            glmk_dropout_forward(d, S, QK, a->dropout_p, a->seed, dropout_offset(a, t));
            used = d;
        }
        glmk_f32_to_bf16_rows(s.qk, used, 1, QK, QK);
        float *c = j->ctx + b * a->ctx_batch + h * a->D;  // ctx_h = P'·V_h
        rc = a->gemm_bf16(0, 0, Q, D, K, s.qk, K, s.v, D, 0.0f, c, (int64_t)a->ctx_row);
        if (rc) { j->status = rc; return; }
    }
}

static void backward_heads_bf16(void *ctx, size_t t0, size_t t1) {
    attention_job *j = ctx;
    const glmk_attention_args *a = j->a;
    const size_t QK = a->Q * a->K;
    const int64_t Q = (int64_t)a->Q, K = (int64_t)a->K, D = (int64_t)a->D;
    size_t slot = (size_t)omp_get_thread_num();
    bf16_slot s;
    if (slot >= j->scratch_slots || bf16_scratch(j, &s)) { j->status = -3; return; }
    float *dP = j->scratch + slot * QK;
    for (size_t t = t0; t < t1 && j->status == 0; t++) {
        size_t b = t / a->H, h = t % a->H;
        bf16_heads(a, b, h, &s);
        glmk_f32_to_bf16_rows(s.dc, j->dctx + b * a->ctx_batch + h * a->D, a->Q, a->D, a->ctx_row);
        const float *P = j->cP + t * QK, *used = j->cPdrop ? j->cPdrop + t * QK : P;
        const float *mask = a->mask + (a->Bm == 1 ? 0 : b) * QK;
        int rc = a->gemm_bf16(0, 1, Q, K, D, s.dc, D, s.v, D, 0.0f, dP, K);  // dP = dctx_h·V_hᵀ
        if (rc) { j->status = rc; return; }
        if (j->dv) {  // dV_h = P'ᵀ·dctx_h
            glmk_f32_to_bf16_rows(s.qk, used, 1, QK, QK);
            rc = a->gemm_bf16(1, 0, K, D, Q, s.qk, K, s.dc, D, j->beta_v, j->dv + b * a->v_batch + h * a->D,
                              (int64_t)a->v_row);
            if (rc) { j->status = rc; return; }
        }
        if (j->cPdrop) glmk_dropout_backward(dP, dP, QK, a->dropout_p, a->seed, dropout_offset(a, t));
        glmk_masked_softmax_backward(dP, dP, P, mask, 1, 1, a->Q, a->K, 1, a->scale);
        glmk_f32_to_bf16_rows(s.qk, dP, 1, QK, QK);
        if (j->dq) {  // dQ_h = dS·K_h
            rc = a->gemm_bf16(0, 0, Q, D, K, s.qk, K, s.k, D, j->beta_q, j->dq + b * a->q_batch + h * a->D,
                              (int64_t)a->q_row);
            if (rc) { j->status = rc; return; }
        }
        if (j->dk) {  // dK_h = dSᵀ·Q_h
            rc = a->gemm_bf16(1, 0, K, D, Q, s.qk, K, s.q, D, j->beta_k, j->dk + b * a->k_batch + h * a->D,
                              (int64_t)a->k_row);
            if (rc) { j->status = rc; return; }
        }
    }
}

static size_t work_estimate(const glmk_attention_args *a) { return a->B * a->H * a->Q * a->K * 8; }

int glmk_attention_heads_forward(const glmk_attention_args *a, float *P, float *Pdrop, float *ctx) {
    if (!a || !a->gemm || !P || !ctx || (a->dropout_p > 0) != (Pdrop != NULL)) return -2;
    if (a->gemm_bf16 && !a->bf16_scratch) return -2;
    if (a->B * a->H * a->Q * a->K == 0) return 0;
    attention_job j = {.a = a, .P = P, .Pdrop = Pdrop, .ctx = ctx};
    glmk_parallel_for(a->B * a->H, work_estimate(a), 1, a->gemm_bf16 ? forward_heads_bf16 : forward_heads, &j);
    return j.status;
}

int glmk_attention_heads_backward(const glmk_attention_args *a, const float *P, const float *Pdrop,
                                  const float *dctx, float *dq, float beta_q, float *dk, float beta_k, float *dv,
                                  float beta_v, float *scratch, size_t scratch_slots) {
    if (!a || !a->gemm || !P || !dctx || !scratch || (a->dropout_p > 0) != (Pdrop != NULL)) return -2;
    if (a->gemm_bf16 && !a->bf16_scratch) return -2;
    if (a->B * a->H * a->Q * a->K == 0) return 0;
    attention_job j = {.a = a, .cP = P, .cPdrop = Pdrop, .dctx = dctx, .dq = dq, .dk = dk, .dv = dv,
                       .beta_q = beta_q, .beta_k = beta_k, .beta_v = beta_v, .scratch = scratch,
                       .scratch_slots = scratch_slots};
    glmk_parallel_for(a->B * a->H, work_estimate(a), 1, a->gemm_bf16 ? backward_heads_bf16 : backward_heads, &j);
    return j.status;
}
