// glm_adamw.c — one fused AdamW step over many parameter tensors, and Σx² for gradient-norm clipping.
#include "glm_internal.h"

/// The per-step scalars of torch.optim.AdamW, computed once in double.
typedef struct {
    float decay;      // 1 − lr·wd
    float step_size;  // lr / (1 − β1^step)
    float inv_bc2;    // 1 / sqrt(1 − β2^step)
    float b1, b2, omb1, omb2, eps, grad_scale;
} adamw_consts;

static adamw_consts make_consts(float lr, float wd, float beta1, float beta2, float eps, float grad_scale,
                                int64_t step) {
    double bc1 = 1.0 - pow((double)beta1, (double)step), bc2 = 1.0 - pow((double)beta2, (double)step);
    adamw_consts k;
    k.decay = (float)(1.0 - (double)lr * (double)wd);
    k.step_size = bc1 > 0 ? (float)((double)lr / bc1) : 0.0f;
    k.inv_bc2 = bc2 > 0 ? (float)(1.0 / sqrt(bc2)) : 0.0f;
    k.b1 = beta1, k.b2 = beta2, k.omb1 = 1.0f - beta1, k.omb2 = 1.0f - beta2;
    k.eps = eps, k.grad_scale = grad_scale;
    return k;
}

static void adamw_scalar(float *p, const float *g, float *m, float *v, size_t n, const adamw_consts *k) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] * k->grad_scale;
        float mi = k->b1 * m[i] + k->omb1 * gi;
        float vi = k->b2 * v[i] + k->omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) * k->inv_bc2 + k->eps;
        p[i] = p[i] * k->decay - k->step_size * mi / denom;
    }
}

// For each t < count: params[t], grads[t], m[t], v[t] all (sizes[t]); weight_decay (count).
void glmk_adamw_step(size_t count, float *const *params, const float *const *grads, float *const *m,
                     float *const *v, const size_t *sizes, const float *weight_decay, float lr,
                     float beta1, float beta2, float eps, float grad_scale, int64_t step) {
    for (size_t t = 0; t < count; t++) {
        adamw_consts k = make_consts(lr, weight_decay[t], beta1, beta2, eps, grad_scale, step);
        adamw_scalar(params[t], grads[t], m[t], v[t], sizes[t], &k);
    }
}

// x (n) → Σ x² in double.
double glmk_sum_squares(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
}
