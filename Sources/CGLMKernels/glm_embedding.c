// glm_embedding.c — embedding lookup and its deterministic scatter-add backward.
// Forward: threads split the tokens. Backward: threads split the COLUMNS and every thread walks all tokens
// in order, so each dtable element receives its additions in token order whatever the thread count.
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef void (*add_fn)(float *y, const float *a, const float *b, size_t n);

#define GLMK_SELF "glm_embedding.c"
#include "glm_foreach_isa.h"

typedef struct {
    add_fn add;
    float *out;
    const float *in;
    const int32_t *ids;
    size_t N, C, V;
    int accumulate;
} emb_job;

static void emb_fwd_range(void *ctx, size_t i0, size_t i1) {
    const emb_job *j = ctx;
    for (size_t i = i0; i < i1; i++) {
        const float *t = j->in + (size_t)j->ids[i] * j->C;
        float *y = j->out + i * j->C;
        if (j->accumulate)
            j->add(y, y, t, j->C);
        else
            memcpy(y, t, j->C * sizeof(float));
    }
}

// ids (N) in [0, V), table (V, C) → y (N, C) = table[ids] (+= if accumulate). -1 on a bad id, nothing written.
int glmk_embedding_forward(float *y, const int32_t *ids, const float *table, size_t N, size_t C,
                           size_t V, int accumulate) {
    for (size_t i = 0; i < N; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V) return -1;
    emb_job j = {GLMK_PICK(emb_add), y, table, ids, N, C, V, accumulate};
    glmk_parallel_for(N, 2 * N * C, 1, emb_fwd_range, &j);
    return 0;
}

static void emb_bwd_cols(void *ctx, size_t c0, size_t c1) {
    const emb_job *j = ctx;
    for (size_t i = 0; i < j->N; i++) {
        int32_t id = j->ids[i];
        if (id < 0 || (size_t)id >= j->V) continue;
        float *t = j->out + (size_t)id * j->C + c0;
        j->add(t, t, j->in + i * j->C + c0, c1 - c0);
    }
}

// dy (N, C), ids (N) → dtable (V, C) += scatter (out-of-range ids are skipped).
void glmk_embedding_backward(float *dtable, const float *dy, const int32_t *ids, size_t N, size_t C,
                             size_t V) {
    if (N == 0) return;
    emb_job j = {GLMK_PICK(emb_add), dtable, dy, ids, N, C, V, 1};
    glmk_parallel_for(C, 3 * N * C, 64, emb_bwd_cols, &j);
}

#else // ---- generic bodies ------------------------------------------------------------------------------

static void NAME(emb_add)(float *y, const float *a, const float *b, size_t n) {
    V_LOOP(i, k, n, v_stk(y + i, v_add(v_ldk(a + i, k), v_ldk(b + i, k)), k));
}

#endif
