// glm_reference.c — the naive scalar twins: straight transcriptions of the formulas in glm_kernels.h,
// never vectorised or threaded, so the fast kernels have a plain-C yardstick.
#include "glm_internal.h"

void glmk_layernorm_forward_ref(float *y, float *mean, float *rstd, const float *x, const float *w,
                                const float *b, size_t N, size_t C, float eps) {
    for (size_t n = 0; n < N && C > 0; n++) {
        double s = 0, ss = 0;
        for (size_t c = 0; c < C; c++) s += x[n * C + c];
        double mu = s / (double)C;
        for (size_t c = 0; c < C; c++) ss += (x[n * C + c] - mu) * (x[n * C + c] - mu);
        double rs = 1.0 / sqrt(ss / (double)C + eps);
        for (size_t c = 0; c < C; c++) y[n * C + c] = (float)((x[n * C + c] - mu) * rs * w[c] + b[c]);
        if (mean) mean[n] = (float)mu;
        if (rstd) rstd[n] = (float)rs;
    }
}

void glmk_layernorm_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const float *mean, const float *rstd, size_t N, size_t C) {
    for (size_t n = 0; n < N && C > 0; n++) {
        double a = 0, bsum = 0;
        for (size_t c = 0; c < C; c++) {
            double xh = (x[n * C + c] - mean[n]) * (double)rstd[n];
            a += dy[n * C + c] * (double)w[c];
            bsum += dy[n * C + c] * (double)w[c] * xh;
            dw[c] += (float)(dy[n * C + c] * xh);
            db[c] += dy[n * C + c];
        }
        for (size_t c = 0; c < C; c++) {
            double xh = (x[n * C + c] - mean[n]) * (double)rstd[n];
            dx[n * C + c] = (float)(rstd[n] * (dy[n * C + c] * (double)w[c] - a / C - xh * bsum / C));
        }
    }
}

void glmk_gelu_forward_ref(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + tanhf(0.7978845608028654f * x[i] * (1.0f + 0.044715f * x[i] * x[i])));
}

void glmk_gelu_backward_ref(float *dx, const float *dy, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i], t = tanhf(0.7978845608028654f * v * (1.0f + 0.044715f * v * v));
        float d = 0.5f * (1.0f + t) +
                  0.5f * v * (1.0f - t * t) * 0.7978845608028654f * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dy[i] * d;
    }
}

void glmk_masked_softmax_forward_ref(float *P, const float *S, const float *mask, size_t B, size_t H,
                                     size_t Q, size_t K, size_t Bm, float scale) {
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t q = 0; q < Q && K > 0; q++) {
                const float *m = mask + ((Bm == 1 ? 0 : b) * Q + q) * K;
                const float *s = S + ((b * H + h) * Q + q) * K;
                float *p = P + ((b * H + h) * Q + q) * K;
                double mx = -INFINITY, sum = 0;
                for (size_t k = 0; k < K; k++) {
                    float v = (scale * s[k]) * m[k] + -65504.0f * (1.0f - m[k]);
                    p[k] = v;
                    if (v > mx) mx = v;
                }
                for (size_t k = 0; k < K; k++) sum += exp(p[k] - mx);
                for (size_t k = 0; k < K; k++) p[k] = (float)(exp(p[k] - mx) / sum);
            }
}

void glmk_masked_softmax_backward_ref(float *dS, const float *dP, const float *P, const float *mask,
                                      size_t B, size_t H, size_t Q, size_t K, size_t Bm, float scale) {
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t q = 0; q < Q; q++) {
                const float *m = mask + ((Bm == 1 ? 0 : b) * Q + q) * K;
                size_t o = ((b * H + h) * Q + q) * K;
                double dot = 0;
                for (size_t k = 0; k < K; k++) dot += (double)dP[o + k] * P[o + k];
                for (size_t k = 0; k < K; k++)
                    dS[o + k] = (float)(scale * m[k] * P[o + k] * (dP[o + k] - dot));
            }
}

void glmk_cross_entropy_forward_ref(float *loss, float *lse, const float *logits,
                                    const int32_t *targets, size_t N, size_t V) {
    for (size_t n = 0; n < N; n++) {
        double mx = -INFINITY, sum = 0;
        for (size_t v = 0; v < V; v++)
            if (logits[n * V + v] > mx) mx = logits[n * V + v];
        for (size_t v = 0; v < V; v++) sum += exp(logits[n * V + v] - mx);
        double l = mx + log(sum);
        if (lse) lse[n] = (float)l;
        int32_t t = targets[n];
        loss[n] = (t >= 0 && (size_t)t < V) ? (float)(l - logits[n * V + t]) : 0.0f;
    }
}

void glmk_cross_entropy_backward_ref(float *dlogits, const float *logits, const float *lse,
                                     const int32_t *targets, const float *dloss, size_t N, size_t V) {
    for (size_t n = 0; n < N; n++) {
        int32_t t = targets[n];
        int valid = t >= 0 && (size_t)t < V;
        for (size_t v = 0; v < V; v++) {
            double p = exp((double)logits[n * V + v] - lse[n]);
            dlogits[n * V + v] = valid ? (float)((p - ((int32_t)v == t ? 1.0 : 0.0)) * dloss[n]) : 0.0f;
        }
    }
}

void glmk_adamw_step_ref(size_t count, float *const *params, const float *const *grads, float *const *m,
                         float *const *v, const size_t *sizes, const float *weight_decay, float lr,
                         float beta1, float beta2, float eps, float grad_scale, int64_t step) {
    double bc1 = 1.0 - pow(beta1, (double)step), bc2 = 1.0 - pow(beta2, (double)step);
    for (size_t t = 0; t < count; t++)
        for (size_t i = 0; i < sizes[t]; i++) {
            double g = (double)grads[t][i] * grad_scale;
            double p = params[t][i] * (1.0 - (double)lr * weight_decay[t]);
            double mi = beta1 * (double)m[t][i] + (1.0 - beta1) * g;
            double vi = beta2 * (double)v[t][i] + (1.0 - beta2) * g * g;
            m[t][i] = (float)mi;
            v[t][i] = (float)vi;
            params[t][i] = (float)(p - (lr / bc1) * mi / (sqrt(vi) / sqrt(bc2) + eps));
        }
}

void glmk_quantize_int8_rows_ref(int8_t *q, float *scale, const float *w, size_t N, size_t K) {
    for (size_t n = 0; n < N; n++) {
        float amax = 0.0f;
        for (size_t k = 0; k < K; k++) {
            float a = fabsf(w[n * K + k]);
            if (a > amax) amax = a;
        }
        float s = amax / 127.0f;
        scale[n] = s;
        for (size_t k = 0; k < K; k++) {
            float r = s > 0.0f ? nearbyintf(w[n * K + k] / s) : 0.0f;
            if (r > 127.0f) r = 127.0f;
            if (r < -127.0f) r = -127.0f;
            q[n * K + k] = (int8_t)r;
        }
    }
}

void glmk_linear_int8w_forward_ref(float *y, const float *x, const int8_t *q, const float *scale,
                                   const float *bias, size_t M, size_t N, size_t K) {
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) s += (double)x[m * K + k] * (double)q[n * K + k];
            y[m * N + n] = (float)(s * scale[n] + (bias ? bias[n] : 0.0));
        }
}
