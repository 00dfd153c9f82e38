// glm_bf16.c — float32 ⇄ bfloat16 with round-to-nearest-even on the bit pattern.
//
// RNE: bits + 0x7FFF + (bit 16 of bits), keep the top half. That is exact for normals and denormals and
// carries max-finite values to Inf as IEEE requires; NaN keeps its sign and top payload and is made quiet
// (| 0x0040) so it can never truncate to Inf. AVX512_BF16's vcvtneps2bf16 is NOT used: it treats denormal
// inputs as zero, so it would differ from this rounding (and the integer version is memory-bound anyway).
#ifndef GLMK_PASS
#include "glm_internal.h"

typedef void (*to_bf16_fn)(uint16_t *y, const float *x, size_t n);
typedef void (*from_bf16_fn)(float *y, const uint16_t *x, size_t n);

#define GLMK_SELF "glm_bf16.c"
#include "glm_foreach_isa.h"

typedef struct {
    to_bf16_fn to;
    from_bf16_fn from;
    uint16_t *h;
    float *f;
} bf16_job;

static void to_range(void *ctx, size_t i0, size_t i1) {
    const bf16_job *j = ctx;
    j->to(j->h + i0, j->f + i0, i1 - i0);
}

static void from_range(void *ctx, size_t i0, size_t i1) {
    const bf16_job *j = ctx;
    j->from(j->f + i0, j->h + i0, i1 - i0);
}

// x (n) → y (n)
void glmk_f32_to_bf16(uint16_t *y, const float *x, size_t n) {
    bf16_job j = {GLMK_PICK(to_bf16), NULL, y, (float *)x};
    glmk_parallel_for(n, n + n / 2, 32, to_range, &j);
}

// x (n) → y (n)
void glmk_bf16_to_f32(float *y, const uint16_t *x, size_t n) {
    bf16_job j = {NULL, GLMK_PICK(from_bf16), (uint16_t *)x, y};
    glmk_parallel_for(n, n + n / 2, 32, from_range, &j);
}

// rows × cols block with row stride `stride` (floats) → dense rows × cols bf16, on the calling thread only
// (for kernels that already run inside a parallel region, e.g. attention by heads).
void glmk_f32_to_bf16_rows(uint16_t *y, const float *x, size_t rows, size_t cols, size_t stride) {
    to_bf16_fn to = GLMK_PICK(to_bf16);
    for (size_t r = 0; r < rows; r++) to(y + r * cols, x + r * stride, cols);
}

#else // ---- generic bodies ------------------------------------------------------------------------------

#if GLMK_ISA == 0
static void NAME(to_bf16)(uint16_t *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint32_t u = asu_s(x[i]);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            y[i] = (uint16_t)((u >> 16) | 0x0040u);
        else
            y[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
}

static void NAME(from_bf16)(float *y, const uint16_t *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = asf_s((uint32_t)x[i] << 16);
}

#elif GLMK_ISA == 1
/// 8 floats → 8 rounded bf16 in the low halves of 32-bit lanes.
static inline __m256i NAME(round8)(__m256i u) {
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                     _mm256_set1_epi32(0x7f800000));
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x0040));
    return _mm256_blendv_epi8(r, q, nan);
}

static void NAME(to_bf16)(uint16_t *y, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = NAME(round8)(_mm256_loadu_si256((const __m256i *)(x + i)));
        __m256i b = NAME(round8)(_mm256_loadu_si256((const __m256i *)(x + i + 8)));
        // packus works per 128-bit lane: [a0 b0 a1 b1] → reorder the 64-bit quarters to [a0 a1 b0 b1].
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), _MM_SHUFFLE(3, 1, 2, 0));
        _mm256_storeu_si256((__m256i *)(y + i), p);
    }
    for (; i < n; i += 8) {
        size_t k = glmk_min(8, n - i);
        __m256i a = NAME(round8)(_mm256_castps_si256(v_ldn(x + i, k)));
        uint16_t tmp[8];
        __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        _mm_storeu_si128((__m128i *)tmp, p);
        memcpy(y + i, tmp, k * sizeof(uint16_t));
    }
}

static void NAME(from_bf16)(float *y, const uint16_t *x, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; i < n; i++) y[i] = asf_s((uint32_t)x[i] << 16);
}

#else
static inline __m256i NAME(round16)(__m512i u) {
    __mmask16 nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7fffffff)),
                                            _mm512_set1_epi32(0x7f800000));
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
    r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x0040));
    return _mm512_cvtepi32_epi16(r);
}

static void NAME(to_bf16)(uint16_t *y, const float *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), NAME(round16)(_mm512_loadu_si512(x + i)));
    if (i < n) {
        __mmask16 m = tailmask_512(n - i);
        _mm256_mask_storeu_epi16(y + i, m, NAME(round16)(_mm512_maskz_loadu_epi32(m, x + i)));
    }
}

static void NAME(from_bf16)(float *y, const uint16_t *x, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(x + i)));
        _mm512_storeu_si512(y + i, _mm512_slli_epi32(w, 16));
    }
    if (i < n) {
        __mmask16 m = tailmask_512(n - i);
        __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, x + i));
        _mm512_mask_storeu_epi32(y + i, m, _mm512_slli_epi32(w, 16));
    }
}
#endif

#endif
