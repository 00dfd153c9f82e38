// glm_adamw.c — one fused AdamW step over many parameter tensors, and Σx² for gradient-norm clipping.
//
// AdamW: all tensors are seen as one concatenated index range that the threads split evenly (so a step
// over ~200 tensors is one fork/join, and big and small tensors balance). Σx²: float64 accumulation over
// fixed chunks of SUMSQ_CHUNK elements (a function of n only), chunk sums added in chunk order.
#ifndef GLMK_PASS
#include "glm_internal.h"

/// The per-tensor scalars of torch.optim.AdamW, computed once in double.
typedef struct {
    float decay;     // 1 − lr·wd
    float step_size; // lr / (1 − β1^step)
    float inv_bc2;   // 1 / sqrt(1 − β2^step)
    float b1, b2, omb1, omb2, eps, grad_scale;
} adamw_consts;

typedef void (*adamw_fn)(float *p, const float *g, float *m, float *v, size_t n, const adamw_consts *k);
typedef double (*sumsq_fn)(const float *x, size_t n);

#define GLMK_SELF "glm_adamw.c"
#include "glm_foreach_isa.h"

typedef struct {
    adamw_fn fn;
    float *const *params;
    const float *const *grads;
    float *const *m, *const *v;
    const size_t *sizes;
    const float *weight_decay;
    float lr, beta1, beta2, eps, grad_scale;
    int64_t step;
} adamw_job;

static adamw_consts make_consts(const adamw_job *j, float wd) {
    double bc1 = 1.0 - pow((double)j->beta1, (double)j->step), bc2 = 1.0 - pow((double)j->beta2, (double)j->step);
    adamw_consts k;
    k.decay = (float)(1.0 - (double)j->lr * (double)wd);
    k.step_size = bc1 > 0 ? (float)((double)j->lr / bc1) : 0.0f;
    k.inv_bc2 = bc2 > 0 ? (float)(1.0 / sqrt(bc2)) : 0.0f;
    k.b1 = j->beta1, k.b2 = j->beta2, k.omb1 = 1.0f - j->beta1, k.omb2 = 1.0f - j->beta2;
    k.eps = j->eps, k.grad_scale = j->grad_scale;
    return k;
}

/// [i0, i1) of the concatenation of all tensors → the pieces of each tensor it covers.
static void adamw_range(void *ctx, size_t i0, size_t i1) {
    const adamw_job *j = ctx;
    size_t base = 0;
    for (size_t t = 0; base < i1; base += j->sizes[t], t++) {
        size_t lo = i0 > base ? i0 - base : 0, hi = glmk_min(j->sizes[t], i1 - base);
        if (lo >= hi) continue;
        adamw_consts k = make_consts(j, j->weight_decay[t]);
        j->fn(j->params[t] + lo, j->grads[t] + lo, j->m[t] + lo, j->v[t] + lo, hi - lo, &k);
    }
}

// For each t < count: params[t], grads[t], m[t], v[t] all (sizes[t]); weight_decay (count).
void glmk_adamw_step(size_t count, float *const *params, const float *const *grads, float *const *m,
                     float *const *v, const size_t *sizes, const float *weight_decay, float lr,
                     float beta1, float beta2, float eps, float grad_scale, int64_t step) {
    size_t total = 0;
    for (size_t t = 0; t < count; t++) total += sizes[t];
    adamw_job j = {GLMK_PICK(adamw_body), params, grads, m, v, sizes, weight_decay,
                   lr, beta1, beta2, eps, grad_scale, step};
    glmk_parallel_for(total, 7 * total, 64, adamw_range, &j);
}

#define SUMSQ_CHUNK ((size_t)1 << 16)

typedef struct {
    sumsq_fn fn;
    const float *x;
    size_t n;
    double *partials;
} sumsq_job;

static void sumsq_chunks(void *ctx, size_t k0, size_t k1) {
    const sumsq_job *j = ctx;
    for (size_t k = k0; k < k1; k++) {
        size_t i0 = k * SUMSQ_CHUNK, i1 = glmk_min(j->n, i0 + SUMSQ_CHUNK);
        j->partials[k] = j->fn(j->x + i0, i1 - i0);
    }
}

// x (n) → Σ x² in double, the same bits for any thread count.
double glmk_sum_squares(const float *x, size_t n) {
    if (n == 0) return 0.0;
    size_t chunks = (n + SUMSQ_CHUNK - 1) / SUMSQ_CHUNK;
    sumsq_job j = {GLMK_PICK(sumsq_body), x, n, NULL};
    double one, total = 0.0;
    j.partials = chunks == 1 ? &one : glmk_scratch_alloc(chunks * sizeof(double));
    if (j.partials) {
        glmk_parallel_for(chunks, n, 1, sumsq_chunks, &j);
        for (size_t k = 0; k < chunks; k++) total += j.partials[k];
        if (chunks > 1) free(j.partials);
        return total;
    }
    for (size_t k = 0; k < chunks; k++) // no memory for the partials: the same sums, one thread
        total += j.fn(x + k * SUMSQ_CHUNK, glmk_min(n - k * SUMSQ_CHUNK, SUMSQ_CHUNK));
    return total;
}

#else // ---- generic bodies ------------------------------------------------------------------------------

static void NAME(adamw_body)(float *p, const float *g, float *m, float *v, size_t n, const adamw_consts *c) {
    const vf gs = v_set1(c->grad_scale), b1 = v_set1(c->b1), b2 = v_set1(c->b2), omb1 = v_set1(c->omb1);
    const vf omb2 = v_set1(c->omb2), eps = v_set1(c->eps), inv_bc2 = v_set1(c->inv_bc2);
    const vf decay = v_set1(c->decay), step = v_set1(c->step_size);
    V_LOOP(i, k, n, {
        if (i + GLMK_PF_DIST < n) {
            v_prefetch(g + i + GLMK_PF_DIST), v_prefetch(m + i + GLMK_PF_DIST);
            v_prefetch(v + i + GLMK_PF_DIST), v_prefetch(p + i + GLMK_PF_DIST);
        }
        vf gi = v_mul(v_ldk(g + i, k), gs);
        vf mi = v_fma(omb1, gi, v_mul(b1, v_ldk(m + i, k)));
        vf vi = v_fma(omb2, v_mul(gi, gi), v_mul(b2, v_ldk(v + i, k)));
        v_stk(m + i, mi, k);
        v_stk(v + i, vi, k);
        vf denom = v_fma(v_sqrt(vi), inv_bc2, eps);
        v_stk(p + i, v_fnma(step, v_div(mi, denom), v_mul(v_ldk(p + i, k), decay)), k);
    });
}

static double NAME(sumsq_body)(const float *x, size_t n) {
#if GLMK_ISA == 0
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
#elif GLMK_ISA == 1
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d lo = _mm256_cvtps_pd(_mm_loadu_ps(x + i)), hi = _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4));
        a0 = _mm256_fmadd_pd(lo, lo, a0), a1 = _mm256_fmadd_pd(hi, hi, a1);
    }
    double tmp[4], s = 0.0;
    _mm256_storeu_pd(tmp, _mm256_add_pd(a0, a1));
    s = (tmp[0] + tmp[1]) + (tmp[2] + tmp[3]);
    for (; i < n; i++) s += (double)x[i] * (double)x[i];
    return s;
#else
    __m512d a0 = _mm512_setzero_pd(), a1 = _mm512_setzero_pd();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512d lo = _mm512_cvtps_pd(_mm256_loadu_ps(x + i)), hi = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
        a0 = _mm512_fmadd_pd(lo, lo, a0), a1 = _mm512_fmadd_pd(hi, hi, a1);
    }
    if (i < n) {
        __mmask16 m = tailmask_512(n - i);
        __m512 t = _mm512_maskz_loadu_ps(m, x + i);
        __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(t));
        __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1)));
        a0 = _mm512_fmadd_pd(lo, lo, a0), a1 = _mm512_fmadd_pd(hi, hi, a1);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(a0, a1));
#endif
}

#endif
