// glm_elementwise.c — add, in-place add/scale, bias add and its backward.
#include "glm_internal.h"

// y (n) = a (n) + b (n); y may alias a or b.
void glmk_add(float *y, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

// y (n) += x (n)
void glmk_add_inplace(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

// y (n) *= s
void glmk_scale_inplace(float *y, float s, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] *= s;
}

// y (rows, cols) += bias (cols)
void glmk_bias_add(float *y, const float *bias, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) y[r * cols + c] += bias[c];
}

// dbias (cols) += Σ_rows dy (rows, cols). Each column is summed in row order by one thread.
void glmk_bias_backward(float *dbias, const float *dy, size_t rows, size_t cols) {
    for (size_t c = 0; c < cols; c++) {
        float s = 0.0f;
        for (size_t r = 0; r < rows; r++) s += dy[r * cols + c];
        dbias[c] += s;
    }
}
