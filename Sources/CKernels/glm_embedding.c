// glm_embedding.c — embedding lookup and its deterministic scatter-add backward.
#include "glm_internal.h"

// ids (N) in [0, V), table (V, C) → y (N, C) = table[ids] (+= if accumulate). -1 on a bad id, nothing written.
int glmk_embedding_forward(float *y, const int32_t *ids, const float *table, size_t N, size_t C,
                           size_t V, int accumulate) {
    for (size_t i = 0; i < N; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V) return -1;
    for (size_t i = 0; i < N; i++) {
        const float *t = table + (size_t)ids[i] * C;
        float *yr = y + i * C;
        if (accumulate)
            for (size_t c = 0; c < C; c++) yr[c] += t[c];
        else
            memcpy(yr, t, C * sizeof(float));
    }
    return 0;
}

// dy (N, C), ids (N) → dtable (V, C) += scatter. Rows are added in token order for every column, so the
// result is the same for any thread count (threads split the columns). Out-of-range ids are skipped.
void glmk_embedding_backward(float *dtable, const float *dy, const int32_t *ids, size_t N, size_t C,
                             size_t V) {
    for (size_t i = 0; i < N; i++) {
        if (ids[i] < 0 || (size_t)ids[i] >= V) continue;
        float *t = dtable + (size_t)ids[i] * C;
        const float *g = dy + i * C;
        for (size_t c = 0; c < C; c++) t[c] += g[c];
    }
}
