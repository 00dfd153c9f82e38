// glm_simd.h — a tiny vector API with one implementation per instruction set, so that every kernel body
// is written once and compiled three times (see glm_foreach_isa.h):
//   GLMK_ISA 0: scalar, VW = 1 (plain C, libm expf)
//   GLMK_ISA 1: AVX2 + FMA, VW = 8
//   GLMK_ISA 2: AVX-512 F/BW/VL/DQ, VW = 16
// The generic names (vf, v_add, v_exp, ...) are macros re-pointed at the current ISA on every inclusion;
// the functions behind them are defined once per ISA (guarded below). No body ever reads or writes past
// the end of an array: tails use masked loads/stores (v_ldn/v_stn, n ≤ VW), which do not fault.
//
// Accuracy: v_exp is Cephes' expf scheme (Cody–Waite reduction, degree-6 polynomial): ≤ 2 ulp measured
// (1.2) over [−87.3, 88.7]; above 88.72 it gives +Inf; NaN propagates. Results that would be denormal
// (x < −87.33) are flushed to exactly 0: producing a denormal costs a ~150-cycle microcode assist on
// Intel cores, and softmax's blocked entries (−65504) hit that case for every element.

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifndef GLMK_ISA
#error "define GLMK_ISA (0 scalar, 1 AVX2, 2 AVX-512) before including glm_simd.h"
#endif

// ---- constants shared by every ISA ---------------------------------------------------------------------
#ifndef GLMK_SIMD_CONSTANTS
#define GLMK_SIMD_CONSTANTS
#define GLMK_EXP_LO (-87.33f) // exp(−87.33) ≈ 1.18e-38, just above FLT_MIN: below it the result is 0
#define GLMK_EXP_HI 89.0f
#define GLMK_LOG2E 1.44269504088896341f
#define GLMK_LN2_HI 0.693359375f
#define GLMK_LN2_LO (-2.12194440e-4f)
#define GLMK_EXP_P0 1.9875691500e-4f
#define GLMK_EXP_P1 1.3981999507e-3f
#define GLMK_EXP_P2 8.3334519073e-3f
#define GLMK_EXP_P3 4.1665795894e-2f
#define GLMK_EXP_P4 1.6666665459e-1f
#define GLMK_EXP_P5 5.0000001201e-1f
#define GLMK_CAT_(a, b) a##b
#define GLMK_CAT(a, b) GLMK_CAT_(a, b)
#endif

// ======================================= scalar (VW = 1) ==============================================
#if GLMK_ISA == 0 && !defined(GLMK_SIMD_SCALAR_DEFINED)
#define GLMK_SIMD_SCALAR_DEFINED
#define GLMK_TS static inline __attribute__((always_inline))
GLMK_TS float ld_s(const float *p) { return *p; }
GLMK_TS void st_s(float *p, float v) { *p = v; }
GLMK_TS float ldn_or_s(const float *p, size_t n, float fill) { return n ? *p : fill; }
GLMK_TS void stn_s(float *p, float v, size_t n) { if (n) *p = v; }
GLMK_TS float fma_s(float a, float b, float c) { return a * b + c; }
GLMK_TS float max_s(float a, float b) { return a > b ? a : b; }
GLMK_TS float exp_s(float x) { return x < GLMK_EXP_LO ? 0.0f : expf(x); } // no denormal results
GLMK_TS uint32_t asu_s(float x) { uint32_t u; memcpy(&u, &x, 4); return u; }
GLMK_TS float asf_s(uint32_t u) { float x; memcpy(&x, &u, 4); return x; }
GLMK_TS void mulhilo_s(uint32_t a, uint32_t m, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * m;
    *hi = (uint32_t)(p >> 32), *lo = (uint32_t)p;
}
#endif

// ======================================= AVX2 + FMA (VW = 8) ==========================================
#if GLMK_ISA == 1 && !defined(GLMK_SIMD_AVX2_DEFINED)
#define GLMK_SIMD_AVX2_DEFINED
#define GLMK_T256 static inline __attribute__((target("avx2,fma"), always_inline))
/// Lanes [0, n) set, for maskload/maskstore (which never touch masked-out memory).
GLMK_T256 __m256i tailmask_256(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
GLMK_T256 __m256 ldn_or_256(const float *p, size_t n, __m256 fill) {
    __m256i m = tailmask_256(n);
    return _mm256_blendv_ps(fill, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
}
GLMK_T256 void stn_256(float *p, __m256 v, size_t n) { _mm256_maskstore_ps(p, tailmask_256(n), v); }
GLMK_T256 float hsum_256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
GLMK_T256 float hmax_256(__m256 v) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
GLMK_T256 __m256 exp_256(__m256 x) {
    __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(GLMK_EXP_LO), _CMP_LT_OQ);
    x = _mm256_max_ps(_mm256_set1_ps(GLMK_EXP_LO), x); // (bound, x): a NaN x is passed through
    x = _mm256_min_ps(_mm256_set1_ps(GLMK_EXP_HI), x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(GLMK_LOG2E)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(GLMK_LN2_HI), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(GLMK_LN2_LO), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(GLMK_EXP_P0), r, _mm256_set1_ps(GLMK_EXP_P1));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(GLMK_EXP_P2));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(GLMK_EXP_P3));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(GLMK_EXP_P4));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(GLMK_EXP_P5));
    __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^n in two factors so that n = 128 (overflow to Inf) stays representable.
    __m256i ni = _mm256_cvtps_epi32(n), n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(_mm256_mul_ps(y, s1), s2));
}
GLMK_T256 void mulhilo_256(__m256i a, uint32_t m, __m256i *hi, __m256i *lo) {
    __m256i mv = _mm256_set1_epi32((int)m);
    __m256i pe = _mm256_mul_epu32(a, mv), po = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), mv);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA);
    *lo = _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
}
/// w[k] holds word k of blocks 0..7 → out[j] holds elements 8j..8j+7 (= blocks 2j, 2j+1, all words).
GLMK_T256 void transpose4_256(__m256i w[4]) {
    __m256i lo01 = _mm256_unpacklo_epi32(w[0], w[1]), hi01 = _mm256_unpackhi_epi32(w[0], w[1]);
    __m256i lo23 = _mm256_unpacklo_epi32(w[2], w[3]), hi23 = _mm256_unpackhi_epi32(w[2], w[3]);
    __m256i a = _mm256_unpacklo_epi64(lo01, lo23), b = _mm256_unpackhi_epi64(lo01, lo23); // blocks {0,4}, {1,5}
    __m256i c = _mm256_unpacklo_epi64(hi01, hi23), d = _mm256_unpackhi_epi64(hi01, hi23); // blocks {2,6}, {3,7}
    w[0] = _mm256_permute2x128_si256(a, b, 0x20);
    w[1] = _mm256_permute2x128_si256(c, d, 0x20);
    w[2] = _mm256_permute2x128_si256(a, b, 0x31);
    w[3] = _mm256_permute2x128_si256(c, d, 0x31);
}
#endif

// ======================================= AVX-512 (VW = 16) ============================================
#if GLMK_ISA == 2 && !defined(GLMK_SIMD_AVX512_DEFINED)
#define GLMK_SIMD_AVX512_DEFINED
#define GLMK_T512 static inline __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma"), always_inline))
GLMK_T512 __mmask16 tailmask_512(size_t n) { return (__mmask16)((1u << n) - 1u); }
GLMK_T512 __m512 ldn_or_512(const float *p, size_t n, __m512 fill) {
    return _mm512_mask_loadu_ps(fill, tailmask_512(n), p);
}
GLMK_T512 void stn_512(float *p, __m512 v, size_t n) { _mm512_mask_storeu_ps(p, tailmask_512(n), v); }
GLMK_T512 __m512 exp_512(__m512 x) {
    __mmask16 normal = _mm512_cmp_ps_mask(x, _mm512_set1_ps(GLMK_EXP_LO), _CMP_NLT_UQ); // NaN stays
    x = _mm512_max_ps(_mm512_set1_ps(GLMK_EXP_LO), x); // (bound, x): a NaN x is passed through
    x = _mm512_min_ps(_mm512_set1_ps(GLMK_EXP_HI), x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(GLMK_LOG2E)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(GLMK_LN2_HI), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(GLMK_LN2_LO), r);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(GLMK_EXP_P0), r, _mm512_set1_ps(GLMK_EXP_P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(GLMK_EXP_P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(GLMK_EXP_P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(GLMK_EXP_P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(GLMK_EXP_P5));
    __m512 y = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_maskz_mov_ps(normal, _mm512_scalef_ps(y, n)); // y·2^n, overflow to Inf
}
GLMK_T512 void mulhilo_512(__m512i a, uint32_t m, __m512i *hi, __m512i *lo) {
    __m512i mv = _mm512_set1_epi32((int)m);
    __m512i pe = _mm512_mul_epu32(a, mv), po = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), mv);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po);
    *lo = _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}
/// w[k] holds word k of blocks 0..15 → out[j] holds elements 16j..16j+15 (blocks 4j..4j+3, all words).
GLMK_T512 void transpose4_512(__m512i w[4]) {
    __m512i lo01 = _mm512_unpacklo_epi32(w[0], w[1]), hi01 = _mm512_unpackhi_epi32(w[0], w[1]);
    __m512i lo23 = _mm512_unpacklo_epi32(w[2], w[3]), hi23 = _mm512_unpackhi_epi32(w[2], w[3]);
    __m512i a = _mm512_unpacklo_epi64(lo01, lo23), b = _mm512_unpackhi_epi64(lo01, lo23); // blocks 4k, 4k+1
    __m512i c = _mm512_unpacklo_epi64(hi01, hi23), d = _mm512_unpackhi_epi64(hi01, hi23); // blocks 4k+2, 4k+3
    __m512i t0 = _mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)), t1 = _mm512_shuffle_i32x4(c, d, _MM_SHUFFLE(1, 0, 1, 0));
    __m512i t2 = _mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)), t3 = _mm512_shuffle_i32x4(c, d, _MM_SHUFFLE(3, 2, 3, 2));
    w[0] = _mm512_shuffle_i32x4(t0, t1, _MM_SHUFFLE(2, 0, 2, 0));
    w[1] = _mm512_shuffle_i32x4(t0, t1, _MM_SHUFFLE(3, 1, 3, 1));
    w[2] = _mm512_shuffle_i32x4(t2, t3, _MM_SHUFFLE(2, 0, 2, 0));
    w[3] = _mm512_shuffle_i32x4(t2, t3, _MM_SHUFFLE(3, 1, 3, 1));
}
#endif

// ======================================= the generic names ============================================
#undef VW
#undef vf
#undef vu
#undef vm
#undef GLMK_SFX
#undef v_set1
#undef v_zero
#undef v_ld
#undef v_st
#undef v_ldn
#undef v_ldn_or
#undef v_stn
#undef v_add
#undef v_sub
#undef v_mul
#undef v_div
#undef v_fma
#undef v_fnma
#undef v_max
#undef v_sqrt
#undef v_hsum
#undef v_hmax
#undef v_exp
#undef v_ge
#undef v_gt
#undef v_sel
#undef v_keep
#undef v_all_zero
#undef v_and_mask
#undef v_u_set1
#undef v_u_iota
#undef v_u_add
#undef v_u_xor
#undef v_u_srl
#undef v_u_to_f
#undef v_u_mulhilo
#undef v_u_transpose4

#if GLMK_ISA == 0
#define VW 1
#define vf float
#define vu uint32_t
#define vm int
#define GLMK_SFX _scalar
#define v_set1(x) ((float)(x))
#define v_zero() 0.0f
#define v_ld(p) ld_s(p)
#define v_st(p, v) st_s(p, v)
#define v_ldn(p, n) ldn_or_s(p, n, 0.0f)
#define v_ldn_or(p, n, fill) ldn_or_s(p, n, fill)
#define v_stn(p, v, n) stn_s(p, v, n)
#define v_add(a, b) ((a) + (b))
#define v_sub(a, b) ((a) - (b))
#define v_mul(a, b) ((a) * (b))
#define v_div(a, b) ((a) / (b))
#define v_fma(a, b, c) fma_s(a, b, c)
#define v_fnma(a, b, c) ((c) - (a) * (b))
#define v_max(a, b) max_s(a, b)
#define v_sqrt(a) sqrtf(a)
#define v_hsum(v) (v)
#define v_hmax(v) (v)
#define v_exp(v) exp_s(v)
#define v_ge(a, b) ((a) >= (b))
#define v_gt(a, b) ((a) > (b))
#define v_sel(m, a, b) ((m) ? (a) : (b))
#define v_keep(v, k, fill) (v)
#define v_all_zero(v) ((v) == 0.0f)
#define v_and_mask(m, a) ((m) ? (a) : 0.0f)
#define v_u_set1(x) ((uint32_t)(x))
#define v_u_iota() 0u
#define v_u_add(a, b) ((a) + (b))
#define v_u_xor(a, b) ((a) ^ (b))
#define v_u_srl(a, k) ((a) >> (k))
#define v_u_to_f(a) ((float)(int32_t)(a))
#define v_u_mulhilo(a, m, hi, lo) mulhilo_s(a, m, hi, lo)
#define v_u_transpose4(w) ((void)(w))
#elif GLMK_ISA == 1
#define VW 8
#define vf __m256
#define vu __m256i
#define vm __m256
#define GLMK_SFX _avx2
#define v_set1(x) _mm256_set1_ps(x)
#define v_zero() _mm256_setzero_ps()
#define v_ld(p) _mm256_loadu_ps(p)
#define v_st(p, v) _mm256_storeu_ps(p, v)
#define v_ldn(p, n) _mm256_maskload_ps(p, tailmask_256(n))
#define v_ldn_or(p, n, fill) ldn_or_256(p, n, fill)
#define v_stn(p, v, n) stn_256(p, v, n)
#define v_add(a, b) _mm256_add_ps(a, b)
#define v_sub(a, b) _mm256_sub_ps(a, b)
#define v_mul(a, b) _mm256_mul_ps(a, b)
#define v_div(a, b) _mm256_div_ps(a, b)
#define v_fma(a, b, c) _mm256_fmadd_ps(a, b, c)
#define v_fnma(a, b, c) _mm256_fnmadd_ps(a, b, c)
#define v_max(a, b) _mm256_max_ps(a, b)
#define v_sqrt(a) _mm256_sqrt_ps(a)
#define v_hsum(v) hsum_256(v)
#define v_hmax(v) hmax_256(v)
#define v_exp(v) exp_256(v)
#define v_ge(a, b) _mm256_cmp_ps(a, b, _CMP_GE_OQ)
#define v_gt(a, b) _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define v_sel(m, a, b) _mm256_blendv_ps(b, a, m)
#define v_keep(v, k, fill) ((k) == VW ? (v) : _mm256_blendv_ps(fill, v, _mm256_castsi256_ps(tailmask_256(k))))
#define v_all_zero(v) (_mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ)) == 0)
#define v_and_mask(m, a) _mm256_and_ps(m, a)
#define v_u_set1(x) _mm256_set1_epi32((int)(x))
#define v_u_iota() _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
#define v_u_add(a, b) _mm256_add_epi32(a, b)
#define v_u_xor(a, b) _mm256_xor_si256(a, b)
#define v_u_srl(a, k) _mm256_srli_epi32(a, k)
#define v_u_to_f(a) _mm256_cvtepi32_ps(a)
#define v_u_mulhilo(a, m, hi, lo) mulhilo_256(a, m, hi, lo)
#define v_u_transpose4(w) transpose4_256(w)
#else
#define VW 16
#define vf __m512
#define vu __m512i
#define vm __mmask16
#define GLMK_SFX _avx512
#define v_set1(x) _mm512_set1_ps(x)
#define v_zero() _mm512_setzero_ps()
#define v_ld(p) _mm512_loadu_ps(p)
#define v_st(p, v) _mm512_storeu_ps(p, v)
#define v_ldn(p, n) _mm512_maskz_loadu_ps(tailmask_512(n), p)
#define v_ldn_or(p, n, fill) ldn_or_512(p, n, fill)
#define v_stn(p, v, n) stn_512(p, v, n)
#define v_add(a, b) _mm512_add_ps(a, b)
#define v_sub(a, b) _mm512_sub_ps(a, b)
#define v_mul(a, b) _mm512_mul_ps(a, b)
#define v_div(a, b) _mm512_div_ps(a, b)
#define v_fma(a, b, c) _mm512_fmadd_ps(a, b, c)
#define v_fnma(a, b, c) _mm512_fnmadd_ps(a, b, c)
#define v_max(a, b) _mm512_max_ps(a, b)
#define v_sqrt(a) _mm512_sqrt_ps(a)
#define v_hsum(v) _mm512_reduce_add_ps(v)
#define v_hmax(v) _mm512_reduce_max_ps(v)
#define v_exp(v) exp_512(v)
#define v_ge(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ)
#define v_gt(a, b) _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ)
#define v_sel(m, a, b) _mm512_mask_blend_ps(m, b, a)
#define v_keep(v, k, fill) ((k) == VW ? (v) : _mm512_mask_mov_ps(fill, tailmask_512(k), v))
#define v_all_zero(v) (_mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ) == 0)
#define v_and_mask(m, a) _mm512_maskz_mov_ps(m, a)
#define v_u_set1(x) _mm512_set1_epi32((int)(x))
#define v_u_iota() _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#define v_u_add(a, b) _mm512_add_epi32(a, b)
#define v_u_xor(a, b) _mm512_xor_si512(a, b)
#define v_u_srl(a, k) _mm512_srli_epi32(a, k)
#define v_u_to_f(a) _mm512_cvtepi32_ps(a)
#define v_u_mulhilo(a, m, hi, lo) mulhilo_512(a, m, hi, lo)
#define v_u_transpose4(w) transpose4_512(w)
#endif

#ifndef GLMK_SIMD_LOOP_DEFINED
#define GLMK_SIMD_LOOP_DEFINED
/// v_sel(m, a, b) = m ? a : b per lane; v_keep(v, k, fill) = v in lanes < k, fill in the others;
/// v_all_zero(v): every lane is ±0 (a branch condition).
/// Load/store k lanes (k ≤ VW): a plain access when k == VW (folded away when k is the constant VW),
/// a masked one otherwise.
#define v_ldk(p, k) ((k) == VW ? v_ld(p) : v_ldn(p, k))
#define v_stk(p, v, k) ((k) == VW ? v_st(p, v) : v_stn(p, v, k))
/// Runs the statements `...` for c = 0, VW, 2·VW, ... < n, with k = the lanes valid at c: the constant VW in
/// the main loop (plain loads), n − c once for the tail (masked loads). The statements appear twice.
#define V_LOOP(c, k, n, ...)                                                   \
    do {                                                                       \
        size_t c = 0;                                                          \
        for (; c + VW <= (n); c += VW) {                                       \
            const size_t k = VW;                                               \
            __VA_ARGS__;                                                       \
        }                                                                      \
        if (c < (n)) {                                                         \
            const size_t k = (n) - c;                                          \
            __VA_ARGS__;                                                       \
        }                                                                      \
    } while (0)
#endif

#ifndef GLMK_PREFETCH_DEFINED
#define GLMK_PREFETCH_DEFINED
/// Software prefetch distance for streaming loops, in floats (4 KB ahead). Measured on the 2-core VM:
/// heavy-compute streams (GELU, LayerNorm rows) keep too few loads in flight for the hardware
/// prefetcher alone. A prefetch never faults, but we still only prefetch inside the array.
#ifndef GLMK_PF_DIST
#define GLMK_PF_DIST 1024
#endif
#define v_prefetch(p) __builtin_prefetch((const void *)(p), 0, 3)
#define v_prefetchw(p) __builtin_prefetch((const void *)(p), 1, 3) // about to be written
#endif

/// NAME(foo) → foo_scalar / foo_avx2 / foo_avx512 for the current pass.
#undef NAME
#define NAME(x) GLMK_CAT(x, GLMK_SFX)
