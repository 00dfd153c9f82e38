// glm_internal.h — shared by the kernel files only (not part of the public API).
//
// Dispatch: every public kernel asks glmk_level() once per call (a cached atomic load) and runs the
// AVX-512, AVX2 or scalar body. Threads: glmk_parallel_for runs a range on libgomp (the OpenMP runtime that
// oneDNN uses) or inline when the work is too small to pay for a fork/join.
#ifndef GLM_INTERNAL_H
#define GLM_INTERNAL_H

#include "glm_kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { GLMK_SCALAR = 0, GLMK_AVX2 = 1, GLMK_AVX512 = 2, GLMK_AVX512BF16 = 3 };

/// The level the kernels use now: hardware level, capped by GLM_CPU_LEVEL and glmk_force_cpu_level.
int glmk_level(void);

/// A body over the index range [begin, end) of some work; ctx carries the kernel's arguments.
typedef void (*glmk_range_fn)(void *ctx, size_t begin, size_t end);

/// Runs fn over [0, n), split into contiguous pieces (multiples of `align`, except the last) over the
/// threads. Runs fn(ctx, 0, n) inline when `work` (floats touched in all) is below the parallel threshold
/// (glmk_set_parallel_min_work) or only one thread is configured.
/// Callers whose result is a reduction must make each index's work independent of the split (fixed
/// chunks indexed by the range), so that the result never depends on the thread count.
void glmk_parallel_for(size_t n, size_t work, size_t align, glmk_range_fn fn, void *ctx);

/// malloc for a kernel's temporary buffer; NULL when out of memory or when a test simulates that
/// (glmk_test_fail_scratch). Every caller has an allocation-free path that gives the same bits.
void *glmk_scratch_alloc(size_t bytes);

static inline size_t glmk_min(size_t a, size_t b) { return a < b ? a : b; }

/// The body compiled for the level the kernels use now (see glm_foreach_isa.h). Level 3 (AVX512_BF16)
/// runs the AVX-512 bodies: its one extra instruction (vcvtne2ps2bf16) flushes denormals, so it is not used.
#define GLMK_PICK(fn) \
    (glmk_level() >= GLMK_AVX512 ? fn##_avx512 : glmk_level() >= GLMK_AVX2 ? fn##_avx2 : fn##_scalar)

/// GLM's "blocked" attention score (−65504 = −max finite fp16).
#define GLMK_MASK_NEG (-65504.0f)

#endif
