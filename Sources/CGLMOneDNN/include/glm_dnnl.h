// glm_dnnl.h — the only door to oneDNN (Debian libdnnl 2.6). Every GEMM of SwiftGLM goes through here,
// so another backend (a GPU) can be added behind the Engine's GEMM interface without touching model code.
//
// All matrices are row-major. Return value: 0 on success, a negative dnnl_status_t-like code on failure;
// glmd_last_error() then holds a readable message (per thread). Nothing here aborts the process.
// Primitives are created once per shape and cached (a small mutex-protected hash map), so repeated calls
// with the same shapes cost one lookup. Threads: oneDNN runs on GNU OpenMP; the thread count is the
// OpenMP one (glmk_set_num_threads sets it for the kernels and oneDNN alike).
#ifndef GLM_DNNL_H
#define GLM_DNNL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The last error message of this thread ("" if none).
const char *glmd_last_error(void);

/// Element types of GEMM inputs. Outputs are always float32.
enum { GLMD_F32 = 0, GLMD_BF16 = 1 };

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

/// The general form behind the batched and bf16 calls: a matmul over up to two batch dimensions with
/// arbitrary element strides, so transposes, head splits ([b, s, n·d] seen as [b, n, s, d]) and column
/// slices of a fused QKV tensor are all expressed as strides, never copies.
/// Logical shapes: A (batch0, batch1, M, K), B (batch0, batch1, K, N), C (batch0, batch1, M, N);
/// stride*[i] is the element step along logical dimension i (batch0, batch1, row, column).
/// C = alpha · A·B + beta · C (beta ≠ 0 reads C). dtype GLMD_F32 or GLMD_BF16 (A, B uint16_t bf16; C f32).
typedef struct glmd_matmul_shape {
    int64_t batch0, batch1, M, N, K;
    int64_t strideA[4], strideB[4], strideC[4];
} glmd_matmul_shape;
int glmd_matmul(int dtype, const glmd_matmul_shape *shape, const void *A, const void *B, float *C,
                float alpha, float beta);
/// The oneDNN implementation name glmd_matmul would use for this problem (e.g. "brg:avx512_core"); tests
/// use it to make sure no slow reference implementation is picked. NULL (and last error) on failure.
const char *glmd_matmul_impl(int dtype, const glmd_matmul_shape *shape, float alpha, float beta);

/// Strided float32 copy: dst = src + beta·dst over a 4-D index space dims[4] with element strides
/// srcStride[4] and dstStride[4] (beta 0 overwrites). The attention op uses it to gather heads of a fused
/// QKV tensor into dense head-major blocks — oneDNN 2.6 picks its fast brgemm batched matmul only for dense
/// right-hand operands, and falls back to a slower gemm-per-matrix path for strided ones — and to scatter
/// gradients back (beta = 1 accumulates). Single-threaded plain loops: it moves a few MB per layer.
int glmd_copy_strided(const int64_t dims[4], const float *src, const int64_t srcStride[4], float *dst,
                      const int64_t dstStride[4], float beta);

/// bf16 inputs, fp32 accumulate and output: C (M, N) = op(A) · op(B) (+ C if accumulate). AVX512_BF16 path.
/// A is (M, K) or (K, M) if transA; B is (K, N) or (N, K) if transB; dense rows.
int glmd_gemm_bf16(int transA, int transB, int64_t M, int64_t N, int64_t K, const uint16_t *A,
                   const uint16_t *B, float *C, int accumulate);

/// The same with leading dimensions and beta: C = op(A)·op(B) + beta·C, A/B bf16 with row strides lda/ldb
/// (of the stored, untransposed matrices), C fp32 with ldc. The per-head products of bf16 attention
/// (glmk_gemm_bf16_fn); dense rows (lda = row length) keep oneDNN on its brgemm path.
int glmd_gemm_bf16_ld(int transA, int transB, int64_t M, int64_t N, int64_t K, const uint16_t *A, int64_t lda,
                      const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc);

/// A weight matrix W (N, K) (nn.Linear layout) with optional bias (N), packed once in oneDNN's preferred
/// layout for y (M, N) = x (M, K) · Wᵀ + bias with small M (decode: M = 1..8) or any M.
/// dtype: GLMD_F32 or GLMD_BF16 weights (for bf16, x is rounded to bf16 on the fly; fp32 output).
/// create returns NULL on failure (message in glmd_last_error()).
typedef struct glmd_packed_linear glmd_packed_linear;
glmd_packed_linear *glmd_packed_linear_create(const float *W, const float *bias, int64_t N, int64_t K,
                                              int dtype);
/// Same, from weights that already are bf16 (N, K), e.g. a bf16 checkpoint.
glmd_packed_linear *glmd_packed_linear_create_bf16(const uint16_t *W, const float *bias, int64_t N,
                                                   int64_t K);
int glmd_packed_linear_run(glmd_packed_linear *p, const float *x, int64_t M, float *y);
/// Bytes held by the packed weights (for reports).
size_t glmd_packed_linear_bytes(const glmd_packed_linear *p);
void glmd_packed_linear_destroy(glmd_packed_linear *p);

/// Thread count for oneDNN calls made from ANY thread (0 = leave OpenMP's default). libgomp keeps the
/// thread count per OS thread, so a count set on one thread would not reach GEMMs issued from another
/// (Swift concurrency hops threads); every glmd_* call applies this process-wide value to its own thread.
void glmd_set_num_threads(int n);

/// Machine-ceiling probes for `glm bench ops`, measured in the same run as the GEMMs so that shares stay
/// meaningful on a shared, noisy machine. Each runs `threads` pthreads for about `seconds`.
/// FP32 FMA peak (AVX-512 zmm, 16 independent accumulators per thread; AVX2 ymm if no AVX-512), GFLOP/s.
double glmd_probe_fp32_peak(int threads, double seconds);
/// bf16 dot-product peak (vdpbf16ps, AVX512_BF16), GFLOP/s (2 flops per bf16 pair); 0 if unsupported.
double glmd_probe_bf16_peak(int threads, double seconds);
/// Native bf16 arithmetic on this CPU: 1 = AVX512_BF16, 2 = AMX-BF16 (without AVX512_BF16), 0 = none
/// (oneDNN then emulates bf16 products with FP32 instructions, usually slower than plain FP32).
int glmd_cpu_has_bf16(void);
/// Memory bandwidth of a triad a = b + s·c over `bytes_per_array` arrays (read 2, write 1), GB/s.
double glmd_probe_triad_bandwidth(int threads, size_t bytes_per_array, double seconds);

/// Number of cached primitives (tests: the cache must stop growing in steady state).
int glmd_cache_size(void);
/// Destroys every cached primitive.
void glmd_cache_clear(void);

#ifdef __cplusplus
}
#endif
#endif
