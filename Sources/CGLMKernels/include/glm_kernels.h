// glm_kernels.h — the C hot loops of SwiftGLM.
//
// Every kernel is a forward/backward pair; shapes are given in comments, row-major, float32 unless noted.
// Each public kernel dispatches at run time to an AVX-512, AVX2 or scalar body (never crashes on a CPU
// without AVX-512) and has a naive scalar twin `*_ref` that the tests compare against.
// Threads: kernels that pay for it run in parallel on the SAME GNU OpenMP runtime that oneDNN uses
// (libgomp), so the two never oversubscribe the cores. Results never depend on the thread count.
//
// Conventions: `d*` outputs of backward passes that are parameter gradients ACCUMULATE (+=);
// gradients with respect to activations are WRITTEN (=) unless the name says `_acc`.
#ifndef GLM_KERNELS_H
#define GLM_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// ---- runtime ------------------------------------------------------------------------------------
/// 0 = scalar, 1 = AVX2+FMA, 2 = AVX-512F/BW/VL/DQ, 3 = AVX-512 + AVX512_BF16 (runs the level-2 bodies).
/// Detected once and cached; honours GLM_CPU_LEVEL=N (a cap, read once).
int glmk_cpu_level(void);
/// Threads used by the kernels (and by oneDNN, via the shared OpenMP runtime). Default: all cores
/// (or OMP_NUM_THREADS). The kernels read one process-wide count; oneDNN reads libgomp's per-OS-thread
/// setting, which this call sets for the CALLING thread only — call it on the thread that runs the GEMMs.
void glmk_set_num_threads(int n);
int glmk_num_threads(void);
/// Tests and benchmarks: use at most `level` (same numbering as glmk_cpu_level) from now on, in every
/// thread; -1 removes the cap. A level above what the CPU (and GLM_CPU_LEVEL) allows is ignored.
void glmk_force_cpu_level(int level);
/// Work (in floats touched) below which kernels stay on the calling thread because a fork/join costs more
/// than it saves (default measured on this machine kind, see glm_runtime.c). Tests set 0 to force every
/// kernel through its multi-threaded split even on tiny inputs. Returns the previous value.
size_t glmk_set_parallel_min_work(size_t floats);
/// Reads `words` 8-byte words once over the kernel threads and returns their XOR: a memory read-bandwidth
/// probe (`glm bench decode`'s read bound: decoding reads its weights, it writes almost nothing).
uint64_t glmk_read_probe(const uint64_t *p, size_t words);
/// Tests only: nonzero makes the kernels' temporary-buffer allocations fail, to exercise the allocation-free
/// paths (which must give the same bits).
void glmk_test_fail_scratch(int fail);
/// A monotonic clock in seconds, for benchmarks.
double glmk_now_seconds(void);

// ---- bfloat16 -----------------------------------------------------------------------------------
/// x (n) → y (n); round to nearest even; NaN stays NaN (quiet), ±Inf stays ±Inf.
void glmk_f32_to_bf16(uint16_t *y, const float *x, size_t n);
void glmk_bf16_to_f32(float *y, const uint16_t *x, size_t n);
/// A rows × cols block of x with row stride `stride` → dense (rows, cols) bf16 y, same rounding, on the
/// calling thread only (no parallel split: for kernels already inside a parallel region).
void glmk_f32_to_bf16_rows(uint16_t *y, const float *x, size_t rows, size_t cols, size_t stride);

// ---- elementwise --------------------------------------------------------------------------------
/// y (n) = a (n) + b (n)              (y may alias a or b)
void glmk_add(float *y, const float *a, const float *b, size_t n);
/// y (n) += x (n)                      (gradient accumulation)
void glmk_add_inplace(float *y, const float *x, size_t n);
/// y (n) *= s
void glmk_scale_inplace(float *y, float s, size_t n);
/// y (n) = exp(x) (n), the kernels' vector exp: ≤ 2 ulp; +Inf above 88.72; exactly 0 below −87.33, where
/// the result would be denormal (denormal results cost a microcode assist each on Intel cores).
/// y may alias x.
void glmk_exp(float *y, const float *x, size_t n);
/// y (rows, cols) += bias (cols)
void glmk_bias_add(float *y, const float *bias, size_t rows, size_t cols);
/// dbias (cols) += Σ_rows dy (rows, cols)
void glmk_bias_backward(float *dbias, const float *dy, size_t rows, size_t cols);

// ---- LayerNorm ----------------------------------------------------------------------------------
/// x (N, C), w (C), b (C) → y (N, C); saves mean (N), rstd (N) (either may be NULL in inference).
void glmk_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                            const float *b, size_t N, size_t C, float eps);
/// dx (N, C) = (written); dw (C), db (C) accumulate.
void glmk_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                             const float *w, const float *mean, const float *rstd, size_t N, size_t C);

// ---- GELU (tanh approximation, GLM's constants 0.7978845608028654 and 0.044715) -------------------
/// y (n) = 0.5·x·(1 + tanh(0.7978845608028654·x·(1 + 0.044715·x²)))
void glmk_gelu_forward(float *y, const float *x, size_t n);
/// dx (n) = dy · gelu'(x)              (dx may alias dy)
void glmk_gelu_backward(float *dx, const float *dy, const float *x, size_t n);

// ---- GLM masked softmax, fused with the 1/sqrt(d) scale ------------------------------------------
/// S, P: (B, H, Q, K); mask: (Bm, Q, K) with Bm = B or 1 (1 = attend, 0 = blocked); head h of batch b uses
/// mask[Bm == 1 ? 0 : b]. P = softmax_K( (scale·S)·M + (−65504)·(1 − M) ). P may alias S.
void glmk_masked_softmax_forward(float *P, const float *S, const float *mask, size_t B, size_t H,
                                 size_t Q, size_t K, size_t Bm, float scale);
/// dS (B, H, Q, K) = scale · M · P · (dP − Σ_K dP·P). dS may alias dP.
void glmk_masked_softmax_backward(float *dS, const float *dP, const float *P, const float *mask,
                                  size_t B, size_t H, size_t Q, size_t K, size_t Bm, float scale);

// ---- multi-head attention, one (batch, head) at a time --------------------------------------------------
/// Row-major C (M, N) = alpha·op(A)·op(B) + beta·C, op(X) = Xᵀ when trans* != 0: the signature of CDNNL's
/// glmd_sgemm, which the Engine passes in (the kernels do not link oneDNN themselves). Must run
/// single-threaded when called inside a parallel region. Returns 0 on success.
typedef int (*glmk_sgemm_fn)(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                             int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);

/// The operands of GLM attention for B batches × H heads of width D: head h of batch b of Q is the (Q, D)
/// matrix at q + b·q_batch + h·D with row stride q_row (a column block of a fused QKV tensor, or a dense
/// [B, rows, H·D] tensor); K and V likewise with K rows. mask (Bm, Q, K), Bm ∈ {1, B}, 1 = attend.
/// ctx and dctx (B, Q, H·D-wide rows) use ctx_batch / ctx_row. Dropout on the probabilities with
/// probability dropout_p (0: none) from the counter-based stream (seed, offset + flat index in (B, H, Q, K)).
/// The same with bf16 A and B (raw bits), fp32 accumulation and C: CDNNL's glmd_gemm_bf16_ld. Same threading rule.
typedef int (*glmk_gemm_bf16_fn)(int transA, int transB, int64_t M, int64_t N, int64_t K, const uint16_t *A,
                                 int64_t lda, const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc);

typedef struct glmk_attention_args {
    size_t B, H, Q, K, D;
    const float *q, *k, *v;
    size_t q_batch, q_row, k_batch, k_row, v_batch, v_row, ctx_batch, ctx_row;
    const float *mask;
    size_t Bm;
    float scale, dropout_p;
    uint64_t seed, offset;
    glmk_sgemm_fn gemm;
    /// bf16 mixed precision when non-NULL: every head's operands (Q, K, V, P', dctx, dS) are rounded to bf16
    /// into dense per-thread scratch right before its products and multiplied by gemm_bf16 (fp32 accumulate;
    /// softmax, dropout and their backward stay fp32). bf16_scratch holds bf16_slots slots of
    /// glmk_attention_bf16_slot(Q, K, D) elements, one per thread (bf16_slots ≥ glmk_num_threads()).
    glmk_gemm_bf16_fn gemm_bf16;
    uint16_t *bf16_scratch;
    size_t bf16_slots;
    /// Tensor model parallelism (0: off): these H heads are heads dropout_h0 ..< dropout_h0 + H of
    /// dropout_H, and each head's dropout mask is the one it has among all dropout_H heads.
    size_t dropout_H, dropout_h0;
} glmk_attention_args;

/// Elements (uint16) of one thread's bf16 scratch slot for attention with Q queries, K keys, head width D.
size_t glmk_attention_bf16_slot(size_t Q, size_t K, size_t D);

/// Per head: S = Q·Kᵀ, P = masked softmax(S) (as glmk_masked_softmax_forward), P' = dropout(P), ctx = P'·V.
/// Writes P (B, H, Q, K), P' into Pdrop (NULL iff dropout_p == 0) and ctx. Heads are split over the
/// threads; each head's score matrix stays in cache between its products. Returns 0 or the GEMM's error.
int glmk_attention_heads_forward(const glmk_attention_args *a, float *P, float *Pdrop, float *ctx);
/// The backward of glmk_attention_heads_forward from dctx: per head dP = dctx·Vᵀ, dV = P'ᵀ·dctx,
/// dS = softmax'(dropout'(dP)), dQ = dS·K, dK = dSᵀ·Q. dq/dk/dv (NULL = not needed) have the layout of
/// q/k/v and get C = product + beta·C (beta 0 overwrites). scratch: scratch_slots × Q·K floats, one slot per
/// thread (scratch_slots ≥ glmk_num_threads()). Returns 0, the GEMM's error, or -3 if slots are too few.
int glmk_attention_heads_backward(const glmk_attention_args *a, const float *P, const float *Pdrop,
                                  const float *dctx, float *dq, float beta_q, float *dk, float beta_k, float *dv,
                                  float beta_v, float *scratch, size_t scratch_slots);

// ---- embedding ----------------------------------------------------------------------------------
/// ids (N) int32 in [0, V) → y (N, C) = table[ids] (or += when accumulate != 0).
/// Returns -1 and writes nothing if an id is out of range, else 0.
int glmk_embedding_forward(float *y, const int32_t *ids, const float *table, size_t N, size_t C,
                           size_t V, int accumulate);
/// dtable (V, C) += scatter of dy (N, C) by ids; deterministic for any thread count.
void glmk_embedding_backward(float *dtable, const float *dy, const int32_t *ids, size_t N, size_t C,
                             size_t V);

// ---- cross-entropy fused with log-softmax --------------------------------------------------------
/// logits (N, V), targets (N) → loss (N) = logsumexp − logit[target]; saves lse (N) (lse may be NULL).
/// A target outside [0, V) (e.g. −100, "ignore") gives loss 0 and an all-zero dlogits row.
void glmk_cross_entropy_forward(float *loss, float *lse, const float *logits, const int32_t *targets,
                                size_t N, size_t V);
/// dlogits (N, V) = (softmax(logits) − onehot(target)) · dloss (N). dlogits MAY ALIAS logits: the backward
/// is done in place over the logits buffer so no second [N × V] buffer is ever needed.
void glmk_cross_entropy_backward(float *dlogits, const float *logits, const float *lse,
                                 const int32_t *targets, const float *dloss, size_t N, size_t V);
/// The vocabulary-parallel backward (tensor model parallelism): logits (N, V) are one rank's vocabulary
/// columns and lse the log-Σ-exp over ALL columns; rows whose target is outside [0, V) (another rank's)
/// get softmax·dloss without the one-hot term instead of zeros. May alias logits.
void glmk_cross_entropy_backward_columns(float *dlogits, const float *logits, const float *lse,
                                         const int32_t *targets, const float *dloss, size_t N, size_t V);

// ---- dropout (counter-based RNG: same mask for any thread count) ---------------------------------
/// y (n) = x·keep/(1−p), keep_i = uniform(seed, offset + i) ≥ p (Philox-4x32-10). y may alias x.
void glmk_dropout_forward(float *y, const float *x, size_t n, float p, uint64_t seed, uint64_t offset);
/// dx (n) = dy·keep/(1−p), the same keep mask regenerated from (seed, offset). dx may alias dy.
void glmk_dropout_backward(float *dx, const float *dy, size_t n, float p, uint64_t seed, uint64_t offset);
/// The RNG itself, Philox-4x32-10 (Salmon et al. 2011, as Random123/cuRAND): out = philox(ctr, key).
/// Dropout element j uses key = (seed, seed >> 32), ctr = (j/4, (j/4) >> 32, 0, 0), word j % 4,
/// u = (word >> 8)·2⁻²⁴, keep iff u ≥ p (scale 1/(1−p) in float); p ≤ 0 copies, p ≥ 1 writes zeros.
void glmk_philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

// ---- optimizer ----------------------------------------------------------------------------------
/// One fused AdamW step (torch.optim.AdamW semantics) over `count` parameter tensors; step ≥ 1 (the first
/// step is 1). The hyperparameters arrive as float: 1 − β2 for β2 = 0.999f is 1.3e-5 (relative) away from
/// Python's 1 − 0.999, an inherent difference to torch with double hyperparameters.
/// For tensor t: p ← p·(1 − lr·wd[t]); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
/// p ← p − (lr / (1−β1^step)) · m / (sqrt(v)/sqrt(1−β2^step) + eps), with g = grad·grad_scale.
void glmk_adamw_step(size_t count, float *const *params, const float *const *grads, float *const *m,
                     float *const *v, const size_t *sizes, const float *weight_decay, float lr,
                     float beta1, float beta2, float eps, float grad_scale, int64_t step);
/// Σ x² accumulated in float64, deterministic for any thread count (for global gradient-norm clipping).
double glmk_sum_squares(const float *x, size_t n);

// ---- weight-only int8 linear (decoding) -------------------------------------------------------------
/// Per-output-channel symmetric quantisation of W (N, K): scale (N) = max_k |w[n, k]| / 127,
/// q (N, K) int8 = round-half-even(w / scale) clamped to [−127, 127]; so |w − scale·q| ≤ scale/2 (up to
/// float rounding). An all-zero row gets scale 0 and q 0. W must be finite. Rows split over threads.
void glmk_quantize_int8_rows(int8_t *q, float *scale, const float *w, size_t N, size_t K);
/// y (M, N) = x (M, K) · Wᵀ + bias (N) with W[n, k] = scale[n]·q[n, k] (q (N, K) int8, scale (N) fp32;
/// bias may be NULL). Weight-only: x stays float32, int8 weights are widened to float and accumulated in
/// float32 (no int8 activations). Weight rows are the outer loop (each weight byte read once for all M
/// rows: M = 1..8 in decoding), N split over threads; each output is one in-order fp32 sum over k then
/// ·scale + bias, so results do not depend on the thread count. Inference only (no backward: the int8
/// copy is a frozen inference copy of a trained weight).
void glmk_linear_int8w_forward(float *y, const float *x, const int8_t *q, const float *scale, const float *bias,
                               size_t M, size_t N, size_t K);

// ---- bf16-weight linear on the plain [out, in] layout (memory-mapped decoding) -------------------------
/// y (M, N) = x (M, K) · Wᵀ + bias (N) with W (N, K) given as bfloat16 bits in plain row-major layout
/// (e.g. a memory-mapped safetensors tensor, read in place). The weights are widened to float exactly;
/// x, accumulation and y are float32 (x is NOT rounded to bf16). Weight rows are the outer loop, N split
/// over threads; each output is one in-order fp32 sum over k plus bias, independent of the thread count.
void glmk_linear_bf16w_forward(float *y, const float *x, const uint16_t *w, const float *bias,
                               size_t M, size_t N, size_t K);
/// The same sum in float64, rounded once (tests).
void glmk_linear_bf16w_forward_ref(float *y, const float *x, const uint16_t *w, const float *bias,
                                   size_t M, size_t N, size_t K);

// ---- naive scalar twins (tests only) -------------------------------------------------------------
void glmk_layernorm_forward_ref(float *y, float *mean, float *rstd, const float *x, const float *w,
                                const float *b, size_t N, size_t C, float eps);
void glmk_layernorm_backward_ref(float *dx, float *dw, float *db, const float *dy, const float *x,
                                 const float *w, const float *mean, const float *rstd, size_t N, size_t C);
void glmk_gelu_forward_ref(float *y, const float *x, size_t n);
void glmk_gelu_backward_ref(float *dx, const float *dy, const float *x, size_t n);
void glmk_masked_softmax_forward_ref(float *P, const float *S, const float *mask, size_t B, size_t H,
                                     size_t Q, size_t K, size_t Bm, float scale);
void glmk_masked_softmax_backward_ref(float *dS, const float *dP, const float *P, const float *mask,
                                      size_t B, size_t H, size_t Q, size_t K, size_t Bm, float scale);
void glmk_cross_entropy_forward_ref(float *loss, float *lse, const float *logits,
                                    const int32_t *targets, size_t N, size_t V);
void glmk_cross_entropy_backward_ref(float *dlogits, const float *logits, const float *lse,
                                     const int32_t *targets, const float *dloss, size_t N, size_t V);
void glmk_adamw_step_ref(size_t count, float *const *params, const float *const *grads, float *const *m,
                         float *const *v, const size_t *sizes, const float *weight_decay, float lr,
                         float beta1, float beta2, float eps, float grad_scale, int64_t step);
/// The formula of glmk_quantize_int8_rows (must match it exactly).
void glmk_quantize_int8_rows_ref(int8_t *q, float *scale, const float *w, size_t N, size_t K);
/// y = scale[n]·Σ_k x[m, k]·q[n, k] + bias[n], the sum in float64, rounded once to float.
void glmk_linear_int8w_forward_ref(float *y, const float *x, const int8_t *q, const float *scale,
                                   const float *bias, size_t M, size_t N, size_t K);


// ---- decoding attention against a bf16 K/V cache (glm_attention_kv16.c) -------------------------------
/// scores (B, H, Q, Kn) = per head q·Kᵀ with q (b, t, h·D + d) at q[b·q_batch + t·q_row + h·D + d] (fp32) and
/// K (b, j, h·D + d) at K[b·kv_batch + j·H·D + h·D + d] (bf16 bits, widened exactly); fp32 accumulation.
void glmk_attention_kv16_scores(float *scores, const float *q, size_t q_batch, size_t q_row, const uint16_t *K,
                                size_t kv_batch, size_t B, size_t H, size_t Q, size_t Kn, size_t D);
/// ctx (B, Q, H·D) = per head P·V with P (B, H, Q, Kn) fp32 and V laid out as K above (bf16).
void glmk_attention_kv16_context(float *ctx, const float *P, const uint16_t *V, size_t kv_batch, size_t B, size_t H,
                                 size_t Q, size_t Kn, size_t D);
/// Scalar twins of the two, float64 sums rounded once.
void glmk_attention_kv16_scores_ref(float *scores, const float *q, size_t q_batch, size_t q_row, const uint16_t *K,
                                    size_t kv_batch, size_t B, size_t H, size_t Q, size_t Kn, size_t D);
void glmk_attention_kv16_context_ref(float *ctx, const float *P, const uint16_t *V, size_t kv_batch, size_t B,
                                     size_t H, size_t Q, size_t Kn, size_t D);
#ifdef __cplusplus
}
#endif
#endif
