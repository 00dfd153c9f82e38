// glm_crossentropy.c — log-softmax fused with cross-entropy; the backward can run in place over logits.
#include "glm_internal.h"

// logits (N, V), targets (N) → loss (N), lse (N, optional).
void glmk_cross_entropy_forward(float *loss, float *lse, const float *logits, const int32_t *targets,
                                size_t N, size_t V) {
    for (size_t n = 0; n < N; n++) {
        const float *x = logits + n * V;
        float mx = -INFINITY;
        for (size_t v = 0; v < V; v++) mx = x[v] > mx ? x[v] : mx;
        float sum = 0.0f;
        for (size_t v = 0; v < V; v++) sum += expf(x[v] - mx);
        float l = mx + logf(sum);
        if (lse) lse[n] = l;
        int32_t t = targets[n];
        loss[n] = (t >= 0 && (size_t)t < V) ? l - x[t] : 0.0f;
    }
}

// logits (N, V), lse, dloss (N), targets (N) → dlogits (N, V) = (softmax − onehot)·dloss; may alias logits.
void glmk_cross_entropy_backward(float *dlogits, const float *logits, const float *lse,
                                 const int32_t *targets, const float *dloss, size_t N, size_t V) {
    for (size_t n = 0; n < N; n++) {
        const float *x = logits + n * V;
        float *d = dlogits + n * V;
        int32_t t = targets[n];
        if (t < 0 || (size_t)t >= V) {
            memset(d, 0, V * sizeof(float));
            continue;
        }
        float l = lse[n], g = dloss[n];
        for (size_t v = 0; v < V; v++) d[v] = expf(x[v] - l) * g;
        d[t] -= g;
    }
}
