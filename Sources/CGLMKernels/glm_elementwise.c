// glm_elementwise.c — add, in-place add/scale, bias add and its backward (memory-bound streaming loops).
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef void (*binary_fn)(float *y, const float *a, const float *b, size_t n);
typedef void (*scale_fn)(float *y, float s, size_t n);
typedef void (*bias_fn)(float *y, const float *bias, size_t rows, size_t cols);
typedef void (*bias_bwd_fn)(float *dbias, const float *dy, size_t rows, size_t cols, size_t c0, size_t c1);

#define GLMK_SELF "glm_elementwise.c"
#include "glm_foreach_isa.h"

typedef struct {
    binary_fn fn;
    float *y;
    const float *a, *b;
} binary_job;

static void binary_range(void *ctx, size_t i0, size_t i1) {
    const binary_job *j = ctx;
    j->fn(j->y + i0, j->a + i0, j->b + i0, i1 - i0);
}

// y (n) = a (n) + b (n); y may alias a or b.
void glmk_add(float *y, const float *a, const float *b, size_t n) {
    binary_job j = {GLMK_PICK(add_range), y, a, b};
    glmk_parallel_for(n, 3 * n, 16, binary_range, &j);
}

// y (n) += x (n)
void glmk_add_inplace(float *y, const float *x, size_t n) {
    binary_job j = {GLMK_PICK(add_range), y, y, x};
    glmk_parallel_for(n, 3 * n, 16, binary_range, &j);
}

static void exp_range(void *ctx, size_t i0, size_t i1) {
    const binary_job *j = ctx;
    j->fn(j->y + i0, j->a + i0, NULL, i1 - i0);
}

// x (n) → y (n) = exp(x); y may alias x.
void glmk_exp(float *y, const float *x, size_t n) {
    binary_job j = {GLMK_PICK(exp_body), y, x, NULL};
    glmk_parallel_for(n, 6 * n, 16, exp_range, &j);
}

typedef struct {
    scale_fn fn;
    float *y;
    float s;
} scale_job;

static void scale_range(void *ctx, size_t i0, size_t i1) {
    const scale_job *j = ctx;
    j->fn(j->y + i0, j->s, i1 - i0);
}

// y (n) *= s
void glmk_scale_inplace(float *y, float s, size_t n) {
    scale_job j = {GLMK_PICK(scale_range), y, s};
    glmk_parallel_for(n, 2 * n, 16, scale_range, &j);
}

typedef struct {
    bias_fn fn;
    bias_bwd_fn bwd;
    float *y;
    const float *bias;
    size_t rows, cols;
} bias_job;

static void bias_rows(void *ctx, size_t r0, size_t r1) {
    const bias_job *j = ctx;
    j->fn(j->y + r0 * j->cols, j->bias, r1 - r0, j->cols);
}

// y (rows, cols) += bias (cols)
void glmk_bias_add(float *y, const float *bias, size_t rows, size_t cols) {
    if (cols == 0) return;
    bias_job j = {GLMK_PICK(bias_add_rows), NULL, y, bias, rows, cols};
    glmk_parallel_for(rows, 2 * rows * cols, 1, bias_rows, &j);
}

static void bias_bwd_cols(void *ctx, size_t c0, size_t c1) {
    const bias_job *j = ctx;
    j->bwd(j->y, j->bias, j->rows, j->cols, c0, c1);
}

// dbias (cols) += Σ_rows dy (rows, cols). Threads split the columns; each column is summed over the rows in
// order by one thread, so the result does not depend on the thread count.
void glmk_bias_backward(float *dbias, const float *dy, size_t rows, size_t cols) {
    if (rows == 0) return;
    bias_job j = {NULL, GLMK_PICK(bias_backward_cols), dbias, dy, rows, cols};
    glmk_parallel_for(cols, rows * cols, 64, bias_bwd_cols, &j);
}

#else // ---- generic bodies, one compilation per ISA ----------------------------------------------------

static void NAME(add_range)(float *y, const float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + VW <= n; i += VW) v_st(y + i, v_add(v_ld(a + i), v_ld(b + i)));
    if (i < n) v_stn(y + i, v_add(v_ldn(a + i, n - i), v_ldn(b + i, n - i)), n - i);
}

static void NAME(exp_body)(float *y, const float *x, const float *unused, size_t n) {
    (void)unused;
    V_LOOP(i, k, n, v_stk(y + i, v_exp(v_ldk(x + i, k)), k));
}

static void NAME(scale_range)(float *y, float s, size_t n) {
    vf vs = v_set1(s);
    size_t i = 0;
    for (; i + VW <= n; i += VW) v_st(y + i, v_mul(v_ld(y + i), vs));
    if (i < n) v_stn(y + i, v_mul(v_ldn(y + i, n - i), vs), n - i);
}

static void NAME(bias_add_rows)(float *y, const float *bias, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) NAME(add_range)(y + r * cols, y + r * cols, bias, cols);
}

/// dbias[c0, c1) += Σ_r dy[r, c0..c1): a block of 4 vectors of columns at a time, rows in order.
static void NAME(bias_backward_cols)(float *dbias, const float *dy, size_t rows, size_t cols, size_t c0,
                                     size_t c1) {
    size_t c = c0;
    for (; c + 4 * VW <= c1; c += 4 * VW) {
        vf s0 = v_zero(), s1 = v_zero(), s2 = v_zero(), s3 = v_zero();
        for (size_t r = 0; r < rows; r++) {
            const float *g = dy + r * cols + c;
            s0 = v_add(s0, v_ld(g)), s1 = v_add(s1, v_ld(g + VW));
            s2 = v_add(s2, v_ld(g + 2 * VW)), s3 = v_add(s3, v_ld(g + 3 * VW));
        }
        v_st(dbias + c, v_add(v_ld(dbias + c), s0));
        v_st(dbias + c + VW, v_add(v_ld(dbias + c + VW), s1));
        v_st(dbias + c + 2 * VW, v_add(v_ld(dbias + c + 2 * VW), s2));
        v_st(dbias + c + 3 * VW, v_add(v_ld(dbias + c + 3 * VW), s3));
    }
    for (; c < c1; c += VW) {
        size_t k = glmk_min(VW, c1 - c);
        vf s = v_zero();
        for (size_t r = 0; r < rows; r++) s = v_add(s, v_ldn(dy + r * cols + c, k));
        v_stn(dbias + c, v_add(v_ldn(dbias + c, k), s), k);
    }
}

#endif
