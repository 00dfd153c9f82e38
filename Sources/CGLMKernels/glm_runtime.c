// glm_runtime.c — CPU level detection (cached), thread control on libgomp, the parallel-for helper, timing.
#include "glm_internal.h"
#include <stdatomic.h>
#include <time.h>

// libgomp's stable C ABI. The toolchain's clang ships no omp.h and its -fopenmp targets libomp, while
// oneDNN (Debian) runs on libgomp: calling libgomp directly keeps one thread pool for both.
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);
extern void omp_set_num_threads(int);
extern int omp_get_max_threads(void);
extern int omp_in_parallel(void);

// ---- CPU level --------------------------------------------------------------------------------------

static int detect_hardware_level(void) {
    __builtin_cpu_init();
    int level = GLMK_SCALAR;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) level = GLMK_AVX2;
    if (level == GLMK_AVX2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        level = GLMK_AVX512;
    if (level == GLMK_AVX512 && __builtin_cpu_supports("avx512bf16")) level = GLMK_AVX512BF16;
    return level;
}

static _Atomic int g_hw_level = -1;    // hardware level capped by GLM_CPU_LEVEL; -1 = not yet detected
static _Atomic int g_forced_level = -1; // glmk_force_cpu_level; -1 = none

static int hardware_level(void) {
    int level = atomic_load_explicit(&g_hw_level, memory_order_relaxed);
    if (level >= 0) return level;
    level = detect_hardware_level();
    const char *env = getenv("GLM_CPU_LEVEL");
    if (env && *env) {
        char *end = NULL;
        long cap = strtol(env, &end, 10);
        if (end != env && cap >= 0 && cap < level) level = (int)cap;
    }
    atomic_store_explicit(&g_hw_level, level, memory_order_relaxed);
    return level;
}

int glmk_level(void) {
    int hw = hardware_level();
    int forced = atomic_load_explicit(&g_forced_level, memory_order_relaxed);
    return (forced >= 0 && forced < hw) ? forced : hw;
}

int glmk_cpu_level(void) { return glmk_level(); }

void glmk_force_cpu_level(int level) {
    atomic_store_explicit(&g_forced_level, level < 0 ? -1 : level, memory_order_relaxed);
}

// ---- threads ------------------------------------------------------------------------------------------

// The kernels' own thread count, shared by every calling thread (libgomp's ICV is per OS thread).
// 0 = not set: use omp_get_max_threads() of the calling thread (OMP_NUM_THREADS or all cores).
static _Atomic int g_num_threads = 0;

void glmk_set_num_threads(int n) {
    if (n < 1) n = 1;
    atomic_store_explicit(&g_num_threads, n, memory_order_relaxed);
    omp_set_num_threads(n); // oneDNN reads this ICV on the calling thread
}

int glmk_num_threads(void) {
    int n = atomic_load_explicit(&g_num_threads, memory_order_relaxed);
    return n > 0 ? n : omp_get_max_threads();
}

typedef struct {
    glmk_range_fn fn;
    void *ctx;
    size_t n, align;
} parallel_job;

static void parallel_trampoline(void *data) {
    const parallel_job *job = (const parallel_job *)data;
    size_t tid = (size_t)omp_get_thread_num(), nt = (size_t)omp_get_num_threads();
    size_t units = (job->n + job->align - 1) / job->align; // whole `align` blocks, the last may be partial
    size_t begin = units * tid / nt * job->align, end = units * (tid + 1) / nt * job->align;
    if (end > job->n) end = job->n;
    if (begin < end) job->fn(job->ctx, begin, end);
}

// Below this many floats touched (a kernel's own estimate, weighted up for compute-heavy kernels), a kernel
// stays on the calling thread. Measured on the 2-core VM (min over calls, real-time priority): a libgomp
// fork/join costs ~0.8-1 µs; 2 threads vs 1 — add n=6144 (18K floats touched) 0.68×, n=24576 (74K) 1.25×;
// LayerNorm 8×768 (12K) 0.89×, 32×768 (49K) 1.5×, 2048×768 2.0×; GELU n=1536 (12K) 0.5×, n=6144 (49K) 1.3×.
#define PAR_MIN_WORK_DEFAULT ((size_t)32768)
static _Atomic size_t g_par_min_work = PAR_MIN_WORK_DEFAULT;

size_t glmk_set_parallel_min_work(size_t floats) {
    return atomic_exchange_explicit(&g_par_min_work, floats, memory_order_relaxed);
}

void glmk_parallel_for(size_t n, size_t work, size_t align, glmk_range_fn fn, void *ctx) {
    if (n == 0) return;
    if (align == 0) align = 1;
    int threads = glmk_num_threads();
    size_t units = (n + align - 1) / align;
    // Inside a parallel region (a kernel called per task of an outer parallel loop, e.g. the per-head
    // attention), run inline: nested teams would only add fork/join cost.
    if (threads <= 1 || work < atomic_load_explicit(&g_par_min_work, memory_order_relaxed) || units < 2 ||
        omp_in_parallel()) {
        fn(ctx, 0, n);
        return;
    }
    if ((size_t)threads > units) threads = (int)units;
    parallel_job job = {fn, ctx, n, align};
    GOMP_parallel(parallel_trampoline, &job, (unsigned)threads, 0);
}

// ---- scratch ------------------------------------------------------------------------------------------

static _Atomic int g_fail_scratch = 0;

void glmk_test_fail_scratch(int fail) { atomic_store_explicit(&g_fail_scratch, fail != 0, memory_order_relaxed); }

void *glmk_scratch_alloc(size_t bytes) {
    if (atomic_load_explicit(&g_fail_scratch, memory_order_relaxed)) return NULL;
    return malloc(bytes ? bytes : 1);
}

// ---- timing -------------------------------------------------------------------------------------------

double glmk_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// ---- read-bandwidth probe -----------------------------------------------------------------------------

typedef struct {
    const uint64_t *p;
    _Atomic uint64_t acc;
} read_probe_job;

static void read_probe_range(void *ctx, size_t i0, size_t i1) {
    read_probe_job *j = ctx;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i = i0;
    for (; i + 4 <= i1; i += 4) { a0 ^= j->p[i]; a1 ^= j->p[i + 1]; a2 ^= j->p[i + 2]; a3 ^= j->p[i + 3]; }
    for (; i < i1; i++) a0 ^= j->p[i];
    atomic_fetch_xor_explicit(&j->acc, a0 ^ a1 ^ a2 ^ a3, memory_order_relaxed);
}

// Reads `words` 8-byte words once, split over the kernel threads (XOR: an associative reduction the compiler
// vectorises, so the loop is bound by the loads): the read side of a decoding step, for its bandwidth bound.
uint64_t glmk_read_probe(const uint64_t *p, size_t words) {
    read_probe_job j = {p, 0};
    glmk_parallel_for(words, words * 2, 8, read_probe_range, &j);
    return atomic_load_explicit(&j.acc, memory_order_relaxed);
}
