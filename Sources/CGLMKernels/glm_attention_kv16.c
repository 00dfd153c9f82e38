// glm_attention_kv16.c — decoding attention against a bfloat16 key/value cache.
//
// A decoding step reads the whole K/V cache of every layer once per token: at GLM-10B that is 1.5 MiB of
// fp32 per cached token. Keeping keys and values in bf16 halves those bytes (and the cache's memory); the
// products widen each bf16 element exactly (bits << 16) and compute in fp32, so the only difference from the
// fp32 cache is the one rounding of K and V when they are stored.
//
// Two passes around the existing masked softmax (glmk_masked_softmax_forward, unchanged):
//   scores (B, H, Q, Kn)[b, h, t, j] = Σ_d q[b, t, h·D + d] · K[b, j, h·D + d]
//   ctx    (B, Q, H·D)[b, t, h·D + d] = Σ_j P[b, h, t, j] · V[b, j, h·D + d]
// q is read through strides (a column block of the fused QKV output); K and V rows are H·D wide with a
// batch stride (a cache of `capacity` rows). Every output element is one fp32 sum in a fixed order (vector
// chunks over d, then a horizontal sum; or j in order), independent of the threading.
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef struct {
    float *out;
    const float *q, *P;
    const uint16_t *kv;
    size_t q_batch, q_row, kv_batch, B, H, Q, Kn, D;
} kv16_args;

typedef void (*kv16_fn)(const kv16_args *a, size_t r0, size_t r1);

/// Keys per work item of the one-query scores pass (kv16_scores_keys).
#define KV16_KEYS 16

#define GLMK_SELF "glm_attention_kv16.c"
#include "glm_foreach_isa.h"

typedef struct {
    kv16_fn fn;
    const kv16_args *a;
} kv16_job;

static void kv16_range(void *ctx, size_t r0, size_t r1) {
    const kv16_job *j = ctx;
    j->fn(j->a, r0, r1);
}

// q (b, t, h·D + d) at q[b·q_batch + t·q_row + h·D + d]; K (b, j, h·D + d) at K[b·kv_batch + j·H·D + h·D + d]
// → scores (B, H, Q, Kn).
void glmk_attention_kv16_scores(float *scores, const float *q, size_t q_batch, size_t q_row, const uint16_t *K,
                                size_t kv_batch, size_t B, size_t H, size_t Q, size_t Kn, size_t D) {
    if (B * H * Q == 0 || Kn == 0) return;
    kv16_args a = {scores, q, NULL, K, q_batch, q_row, kv_batch, B, H, Q, Kn, D};
    if (Q == 1) {
        // A decoding step: work items are (b, block of KV16_KEYS keys), each walking its cache rows in
        // memory order (one H·D row = every head's key), instead of one head's D-wide column slice at an
        // H·D stride: the DRAM-resident cache of a batch streams at 2–3× the rate (bench in the commit).
        kv16_job j = {GLMK_PICK(kv16_scores_keys), &a};
        size_t blocks = (Kn + KV16_KEYS - 1) / KV16_KEYS;
        glmk_parallel_for(B * blocks, B * H * Kn * (D / 2 + 1), 1, kv16_range, &j);
        return;
    }
    kv16_job j = {GLMK_PICK(kv16_scores_rows), &a};
    glmk_parallel_for(B * H * Q, B * H * Q * Kn * (D / 2 + 1), 1, kv16_range, &j);
}

// P (B, H, Q, Kn), V as K above → ctx (B, Q, H·D).
void glmk_attention_kv16_context(float *ctx, const float *P, const uint16_t *V, size_t kv_batch, size_t B, size_t H,
                                 size_t Q, size_t Kn, size_t D) {
    if (B * H * Q == 0) return;
    kv16_args a = {ctx, NULL, P, V, 0, 0, kv_batch, B, H, Q, Kn, D};
    if (Q == 1 && H % 4 == 0 && B * H / 4 >= 4) {
        // A decoding step of a batch: items (b, 4 heads) read 4·D contiguous values of each cache row instead
        // of D at an H·D stride, 1.2× faster on a DRAM-resident cache (the kernel falls back to the per-head
        // path where D is not 4 vectors).
        kv16_job j = {GLMK_PICK(kv16_context_heads4), &a};
        glmk_parallel_for(B * H / 4, B * H * Kn * (D / 2 + 1), 1, kv16_range, &j);
        return;
    }
    kv16_job j = {GLMK_PICK(kv16_context_rows), &a};
    glmk_parallel_for(B * Q * H, B * H * Q * Kn * (D / 2 + 1), 1, kv16_range, &j);
}

// ---- reference twins (scalar, double accumulation: the tests' ground truth) -------------------------------

static float kv16_widen_ref(uint16_t u) {
    uint32_t w = (uint32_t)u << 16;
    float f;
    memcpy(&f, &w, 4);
    return f;
}

void glmk_attention_kv16_scores_ref(float *scores, const float *q, size_t q_batch, size_t q_row, const uint16_t *K,
                                    size_t kv_batch, size_t B, size_t H, size_t Q, size_t Kn, size_t D) {
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t t = 0; t < Q; t++)
                for (size_t j = 0; j < Kn; j++) {
                    double s = 0;
                    for (size_t d = 0; d < D; d++)
                        s += (double)q[b * q_batch + t * q_row + h * D + d] * kv16_widen_ref(K[b * kv_batch + j * H * D + h * D + d]);
                    scores[((b * H + h) * Q + t) * Kn + j] = (float)s;
                }
}

void glmk_attention_kv16_context_ref(float *ctx, const float *P, const uint16_t *V, size_t kv_batch, size_t B,
                                     size_t H, size_t Q, size_t Kn, size_t D) {
    for (size_t b = 0; b < B; b++)
        for (size_t t = 0; t < Q; t++)
            for (size_t h = 0; h < H; h++)
                for (size_t d = 0; d < D; d++) {
                    double s = 0;
                    for (size_t j = 0; j < Kn; j++)
                        s += (double)P[((b * H + h) * Q + t) * Kn + j] * kv16_widen_ref(V[b * kv_batch + j * H * D + h * D + d]);
                    ctx[(b * Q + t) * H * D + h * D + d] = (float)s;
                }
}

#else // ---- generic bodies, one compilation per ISA ----------------------------------------------------

// VW bf16 values widened to fp32 (exact), or the first n (< VW) with zeros after them.
#if GLMK_ISA == 0
static inline float NAME(ld_bf16)(const uint16_t *p) { return asf_s((uint32_t)*p << 16); }
static inline float NAME(ldn_bf16)(const uint16_t *p, size_t n) { return n ? asf_s((uint32_t)*p << 16) : 0.0f; }
#elif GLMK_ISA == 1
static inline __m256 NAME(ld_bf16)(const uint16_t *p) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}
static inline __m256 NAME(ldn_bf16)(const uint16_t *p, size_t n) {
    uint16_t t[8] = {0};
    memcpy(t, p, n * 2);
    return NAME(ld_bf16)(t);
}
#else
static inline __m512 NAME(ld_bf16)(const uint16_t *p) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}
static inline __m512 NAME(ldn_bf16)(const uint16_t *p, size_t n) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(tailmask_512(n), p)), 16));
}
#endif

/// D products of q and one key row, one fp32 accumulator, vector chunks in order.
static inline __attribute__((always_inline)) vf NAME(kv16_dot)(const float *q, const uint16_t *k, size_t D) {
    vf acc = v_zero();
    size_t d = 0;
    for (; d + VW <= D; d += VW) acc = v_fma(v_ld(q + d), NAME(ld_bf16)(k + d), acc);
    if (d < D) acc = v_fma(v_ldn(q + d, D - d), NAME(ldn_bf16)(k + d, D - d), acc);
    return acc;
}

/// Score rows r = (b·H + h)·Q + t: one dot product of length D per cached key j, four keys at a time (four
/// independent accumulator chains; each key's sum is still one chain in d order).
static void NAME(kv16_scores_rows)(const kv16_args *a, size_t r0, size_t r1) {
    const size_t H = a->H, Q = a->Q, Kn = a->Kn, D = a->D, HD = H * D;
    for (size_t r = r0; r < r1; r++) {
        const size_t t = r % Q, h = (r / Q) % H, b = r / (Q * H);
        const float *qr = a->q + b * a->q_batch + t * a->q_row + h * D;
        const uint16_t *k0 = a->kv + b * a->kv_batch + h * D;
        float *out = a->out + r * Kn;
        size_t j = 0;
        for (; j + 4 <= Kn; j += 4) {
            vf s0 = NAME(kv16_dot)(qr, k0 + j * HD, D), s1 = NAME(kv16_dot)(qr, k0 + (j + 1) * HD, D);
            vf s2 = NAME(kv16_dot)(qr, k0 + (j + 2) * HD, D), s3 = NAME(kv16_dot)(qr, k0 + (j + 3) * HD, D);
            out[j] = v_hsum(s0); out[j + 1] = v_hsum(s1); out[j + 2] = v_hsum(s2); out[j + 3] = v_hsum(s3);
        }
        for (; j < Kn; j++) out[j] = v_hsum(NAME(kv16_dot)(qr, k0 + j * HD, D));
    }
}

/// One-query score items i = b·blocks + block: keys j of that block in order, each cache row (all H heads'
/// keys, contiguous) read once, every head's dot product from it — the same sums as kv16_scores_rows.
static void NAME(kv16_scores_keys)(const kv16_args *a, size_t i0, size_t i1) {
    const size_t H = a->H, Kn = a->Kn, D = a->D, HD = H * D, blocks = (Kn + KV16_KEYS - 1) / KV16_KEYS;
    for (size_t i = i0; i < i1; i++) {
        const size_t b = i / blocks, j0 = (i % blocks) * KV16_KEYS, j1 = j0 + KV16_KEYS < Kn ? j0 + KV16_KEYS : Kn;
        const float *qb = a->q + b * a->q_batch;
        const uint16_t *kb = a->kv + b * a->kv_batch;
        float *out = a->out + b * H * Kn;
        for (size_t j = j0; j < j1; j++) {
            const uint16_t *row = kb + j * HD;
            size_t h = 0;
            for (; h + 4 <= H; h += 4) {
                vf s0 = NAME(kv16_dot)(qb + h * D, row + h * D, D), s1 = NAME(kv16_dot)(qb + (h + 1) * D, row + (h + 1) * D, D);
                vf s2 = NAME(kv16_dot)(qb + (h + 2) * D, row + (h + 2) * D, D), s3 = NAME(kv16_dot)(qb + (h + 3) * D, row + (h + 3) * D, D);
                out[h * Kn + j] = v_hsum(s0); out[(h + 1) * Kn + j] = v_hsum(s1);
                out[(h + 2) * Kn + j] = v_hsum(s2); out[(h + 3) * Kn + j] = v_hsum(s3);
            }
            for (; h < H; h++) out[h * Kn + j] = v_hsum(NAME(kv16_dot)(qb + h * D, row + h * D, D));
        }
    }
}

/// Context rows r = (b·Q + t)·H + h: D outputs, accumulated over the keys j in order, up to four vector
/// chunks of d at once (independent chains; each value row's chunks are read together).
static void NAME(kv16_context_rows)(const kv16_args *a, size_t r0, size_t r1) {
    const size_t H = a->H, Q = a->Q, Kn = a->Kn, D = a->D, HD = H * D;
    for (size_t r = r0; r < r1; r++) {
        const size_t h = r % H, t = (r / H) % Q, b = r / (H * Q);
        const float *p = a->P + ((b * H + h) * Q + t) * Kn;
        const uint16_t *v0 = a->kv + b * a->kv_batch + h * D;
        float *out = a->out + (b * Q + t) * HD + h * D;
        for (size_t d0 = 0; d0 < D; d0 += 4 * VW) {
            size_t n[4], chunks = 0;
            for (size_t c = 0; c < 4 && d0 + c * VW < D; c++, chunks++) n[c] = D - d0 - c * VW < VW ? D - d0 - c * VW : VW;
            vf acc[4] = {v_zero(), v_zero(), v_zero(), v_zero()};
            if (chunks == 4 && n[3] == VW) {
                for (size_t j = 0; j < Kn; j++) {
                    const vf pj = v_set1(p[j]);
                    const uint16_t *vr = v0 + j * HD + d0;
                    acc[0] = v_fma(pj, NAME(ld_bf16)(vr), acc[0]);
                    acc[1] = v_fma(pj, NAME(ld_bf16)(vr + VW), acc[1]);
                    acc[2] = v_fma(pj, NAME(ld_bf16)(vr + 2 * VW), acc[2]);
                    acc[3] = v_fma(pj, NAME(ld_bf16)(vr + 3 * VW), acc[3]);
                }
            } else {
                for (size_t j = 0; j < Kn; j++) {
                    const vf pj = v_set1(p[j]);
                    const uint16_t *vr = v0 + j * HD + d0;
                    for (size_t c = 0; c < chunks; c++)
                        acc[c] = v_fma(pj, n[c] == VW ? NAME(ld_bf16)(vr + c * VW) : NAME(ldn_bf16)(vr + c * VW, n[c]), acc[c]);
                }
            }
            for (size_t c = 0; c < chunks; c++) {
                if (n[c] == VW) v_st(out + d0 + c * VW, acc[c]); else v_stn(out + d0 + c * VW, acc[c], n[c]);
            }
        }
    }
}

/// One-query context items i = b·(H/4) + g: heads 4g…4g+3 together, the keys j in order; each head's D
/// outputs keep their own accumulators and j order, so the sums are those of kv16_context_rows.
static void NAME(kv16_context_heads4)(const kv16_args *a, size_t i0, size_t i1) {
    const size_t H = a->H, Kn = a->Kn, D = a->D, HD = H * D, groups = H / 4;
    if (D != 4 * VW) {  // not four vector chunks per head: the per-head rows (same sums)
        for (size_t i = i0; i < i1; i++) NAME(kv16_context_rows)(a, i * 4, i * 4 + 4);
        return;
    }
    for (size_t i = i0; i < i1; i++) {
        const size_t b = i / groups, h0 = (i % groups) * 4;
        const float *p = a->P + (b * H + h0) * Kn;
        const uint16_t *v0 = a->kv + b * a->kv_batch + h0 * D;
        vf acc[4][4];
        for (size_t h = 0; h < 4; h++)
            for (size_t c = 0; c < 4; c++) acc[h][c] = v_zero();
        for (size_t j = 0; j < Kn; j++) {
            const uint16_t *vr = v0 + j * HD;
            for (size_t h = 0; h < 4; h++) {
                const vf pj = v_set1(p[h * Kn + j]);
                for (size_t c = 0; c < 4; c++) acc[h][c] = v_fma(pj, NAME(ld_bf16)(vr + h * D + c * VW), acc[h][c]);
            }
        }
        float *out = a->out + b * HD + h0 * D;
        for (size_t h = 0; h < 4; h++)
            for (size_t c = 0; c < 4; c++) v_st(out + h * D + c * VW, acc[h][c]);
    }
}

#endif
