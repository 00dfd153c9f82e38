// glm_dnnl.h — the only door to oneDNN (Debian libdnnl 2.6). Every GEMM of SwiftGLM goes through here,
// so another backend (a GPU) can be added behind the Engine's GEMM interface without touching model code.
//
// All matrices are row-major. Return value: 0 on success, a negative dnnl_status_t-like code on failure;
// glmd_last_error() then holds a readable message. Primitives are created once per shape and cached.
#ifndef GLM_DNNL_H
#define GLM_DNNL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

const char *glmd_last_error(void);

/// C (M, N) = alpha · op(A) · op(B) + beta · C. op(A) is (M, K): A is (M, K) with lda, or (K, M) if transA.
/// op(B) is (K, N): B is (K, N) with ldb, or (N, K) if transB (the nn.Linear weight layout). FP32, dnnl_sgemm.
int glmd_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
               int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/// Batched: for b in 0..<batch, C_b (M, N) = alpha · op(A_b) · op(B_b) + beta · C_b, with element strides
/// strideA/strideB/strideC between consecutive matrices (dense within a matrix: lda = row length).
/// One oneDNN matmul primitive over a 3-D problem (parallel over the batch, not a loop of threaded sgemms).
int glmd_sgemm_batched(int transA, int transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t strideA, const float *B, int64_t strideB, float beta,
                       float *C, int64_t strideC);

/// bf16 inputs, fp32 accumulate and output: C (M, N) = op(A) · op(B) (+ C if accumulate). AVX512_BF16 path.
int glmd_gemm_bf16(int transA, int transB, int64_t M, int64_t N, int64_t K, const uint16_t *A,
                   const uint16_t *B, float *C, int accumulate);

/// A weight matrix W (N, K) (nn.Linear layout) with optional bias (N), packed once in oneDNN's preferred
/// layout for y (M, N) = x (M, K) · Wᵀ + bias with small M (decode: M = 1..8) or any M.
/// dtype: 0 = float32, 1 = bfloat16 weights (x converted on the fly, fp32 output).
typedef struct glmd_packed_linear glmd_packed_linear;
glmd_packed_linear *glmd_packed_linear_create(const float *W, const float *bias, int64_t N, int64_t K,
                                              int dtype);
int glmd_packed_linear_run(glmd_packed_linear *p, const float *x, int64_t M, float *y);
void glmd_packed_linear_destroy(glmd_packed_linear *p);

#ifdef __cplusplus
}
#endif
#endif
