// glm_foreach_isa.h — compiles the kernel file named by GLMK_SELF once per instruction set.
//
// A kernel file has two halves: `#ifdef GLMK_PASS` holds the generic body (functions named NAME(x), written
// in glm_simd.h's vector API); the other half includes this header, which re-includes the file with
// GLMK_PASS defined three times — scalar, AVX2+FMA, AVX-512 — each time with the vector API pointed at
// that ISA and every function in the pass compiled for it (clang attribute push). The dispatcher then
// picks x_scalar / x_avx2 / x_avx512 at run time (GLMK_PICK). This is the "foreach target" idiom of
// Google Highway, done with the preprocessor only.
#ifndef GLMK_SELF
#error "define GLMK_SELF to the including file's name"
#endif
#define GLMK_PASS 1

#undef GLMK_ISA
#define GLMK_ISA 0
#include "glm_simd.h"
#include GLMK_SELF

#undef GLMK_ISA
#define GLMK_ISA 1
#include "glm_simd.h"
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#include GLMK_SELF
#pragma clang attribute pop

#undef GLMK_ISA
#define GLMK_ISA 2
#include "glm_simd.h"
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,prfchw"))), \
                             apply_to = function)
#include GLMK_SELF
#pragma clang attribute pop

#undef GLMK_PASS
#undef GLMK_SELF
