// glm_dnnl.c — SwiftGLM's thin wrapper around oneDNN 2.6 (C API). See include/glm_dnnl.h for the contract.
//
// Why a primitive cache: creating a oneDNN matmul primitive costs tens to hundreds of microseconds (JIT),
// far more than a decode-sized GEMM, so every (dtype, shape, strides, alpha, beta) is created once and
// reused. The cache is a fixed-size open-addressing table behind one mutex; executing happens outside
// the lock. It is "thread-safe enough for one caller": concurrent executions of the SAME primitive from
// two threads are not supported (the engine never does that; oneDNN parallelises inside a call).
#include "glm_dnnl.h"

#include <dnnl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- errors -----------------------------------------------------------------------------------------
static __thread char last_error[512];

const char *glmd_last_error(void) { return last_error; }

static int fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return code < 0 ? code : -1 - code;
}

static const char *status_name(dnnl_status_t s) {
    switch (s) {
    case dnnl_success: return "success";
    case dnnl_out_of_memory: return "out of memory";
    case dnnl_invalid_arguments: return "invalid arguments";
    case dnnl_unimplemented: return "unimplemented";
    case dnnl_iterator_ends: return "iterator ends";
    case dnnl_runtime_error: return "runtime error";
    case dnnl_not_required: return "not required";
    default: return "unknown status";
    }
}

#define DN(call, what)                                                                                   \
    do {                                                                                                 \
        dnnl_status_t st_ = (call);                                                                      \
        if (st_ != dnnl_success) {                                                                       \
            rc = fail(-(int)st_ - 1, "oneDNN %s failed: %s (%d)", what, status_name(st_), (int)st_);     \
            goto done;                                                                                   \
        }                                                                                                \
    } while (0)

// ---- threads ------------------------------------------------------------------------------------------
// libgomp's C ABI (oneDNN in Debian runs on it); declared here because the toolchain ships no omp.h.
extern int omp_get_max_threads(void);
extern void omp_set_num_threads(int);

static volatile int g_threads;  // 0 = OpenMP default

void glmd_set_num_threads(int n) { g_threads = n > 0 ? n : 0; }

static void apply_threads(void) {
    int n = g_threads;
    if (n > 0 && omp_get_max_threads() != n) omp_set_num_threads(n);
}

// ---- engine and stream (created once) -----------------------------------------------------------------
static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static dnnl_status_t g_init_status = dnnl_runtime_error;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
    g_init_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (g_init_status == dnnl_success) g_init_status = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
}

static int ensure_init(void) {
    apply_threads();
    pthread_once(&g_once, init_once);
    if (g_init_status != dnnl_success)
        return fail(-(int)g_init_status - 1, "oneDNN CPU engine/stream creation failed: %s",
                    status_name(g_init_status));
    return 0;
}

// ---- primitive cache ----------------------------------------------------------------------------------
typedef struct {
    int32_t kind;  // 1 = strided matmul
    int32_t dtype;
    int32_t ndims;
    int32_t pad;
    int64_t dims[3][4];     // A, B, C logical dims (ndims used)
    int64_t strides[3][4];  // element strides
    float alpha, beta;
} cache_key;

typedef struct {
    int used;
    uint64_t hash;
    cache_key key;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
} cache_entry;

enum { CACHE_SLOTS = 1024 };
static cache_entry g_cache[CACHE_SLOTS];
static int g_cache_count;
static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static void cache_clear_locked(void) {
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (!g_cache[i].used) continue;
        dnnl_primitive_destroy(g_cache[i].prim);
        dnnl_primitive_desc_destroy(g_cache[i].pd);
        memset(&g_cache[i], 0, sizeof g_cache[i]);
    }
    g_cache_count = 0;
}

int glmd_cache_size(void) {
    pthread_mutex_lock(&g_cache_lock);
    int n = g_cache_count;
    pthread_mutex_unlock(&g_cache_lock);
    return n;
}

void glmd_cache_clear(void) {
    pthread_mutex_lock(&g_cache_lock);
    cache_clear_locked();
    pthread_mutex_unlock(&g_cache_lock);
}

// ---- matmul primitive creation ------------------------------------------------------------------------
static dnnl_data_type_t dnnl_type(int dtype) { return dtype == GLMD_BF16 ? dnnl_bf16 : dnnl_f32; }

/// Builds a key with size-1 batch dimensions squeezed away (a plain 2-D problem picks the best kernels).
static int make_key(cache_key *k, int dtype, const glmd_matmul_shape *s, float alpha, float beta) {
    memset(k, 0, sizeof *k);
    if (s->batch0 < 1 || s->batch1 < 1 || s->M < 1 || s->N < 1 || s->K < 1)
        return fail(-2, "matmul: bad sizes batch %lld×%lld, M %lld, N %lld, K %lld", (long long)s->batch0,
                    (long long)s->batch1, (long long)s->M, (long long)s->N, (long long)s->K);
    if (dtype != GLMD_F32 && dtype != GLMD_BF16) return fail(-2, "matmul: unknown dtype %d", dtype);
    k->kind = 1;
    k->dtype = dtype;
    k->alpha = alpha;
    k->beta = beta;
    int64_t bd[2] = {s->batch0, s->batch1};
    const int64_t *st[3] = {s->strideA, s->strideB, s->strideC};
    int64_t rows[3] = {s->M, s->K, s->M}, cols[3] = {s->K, s->N, s->N};
    int nd = 0;
    int keep[2] = {0, 0};
    for (int i = 0; i < 2; i++)
        if (bd[i] > 1) keep[i] = 1;
    for (int i = 0; i < 2; i++) {
        if (!keep[i]) continue;
        for (int t = 0; t < 3; t++) {
            k->dims[t][nd] = bd[i];
            k->strides[t][nd] = st[t][i];
        }
        nd++;
    }
    for (int t = 0; t < 3; t++) {
        k->dims[t][nd] = rows[t];
        k->dims[t][nd + 1] = cols[t];
        k->strides[t][nd] = st[t][2];
        k->strides[t][nd + 1] = st[t][3];
    }
    k->ndims = nd + 2;
    return 0;
}

static int create_matmul(const cache_key *k, dnnl_primitive_desc_t *pd_out, dnnl_primitive_t *prim_out) {
    int rc = 0;
    dnnl_memory_desc_t md[3];
    dnnl_matmul_desc_t desc;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    for (int t = 0; t < 3; t++) {
        dnnl_data_type_t dt = t == 2 ? dnnl_f32 : dnnl_type(k->dtype);
        dnnl_dims_t dims = {0}, strides = {0};
        memcpy(dims, k->dims[t], sizeof k->dims[t]);
        memcpy(strides, k->strides[t], sizeof k->strides[t]);
        DN(dnnl_memory_desc_init_by_strides(&md[t], k->ndims, dims, dt, strides), "memory_desc_init_by_strides");
    }
    DN(dnnl_matmul_desc_init(&desc, &md[0], &md[1], NULL, &md[2]), "matmul_desc_init");
    DN(dnnl_primitive_attr_create(&attr), "primitive_attr_create");
    // User-managed scratchpad: the library's default one is shared by all primitives (Debian's build has no
    // concurrent-execution option), so two threads running products at once (bf16 attention by heads)
    // would corrupt each other's packed operands. execute() hands each thread its own buffer instead.
    DN(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode");
    if (k->alpha != 1.0f) DN(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &k->alpha), "set_output_scales");
    if (k->beta != 0.0f) {
        DN(dnnl_post_ops_create(&po), "post_ops_create");
        DN(dnnl_post_ops_append_sum(po, k->beta), "post_ops_append_sum");
        DN(dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
    }
    DN(dnnl_primitive_desc_create(&pd, &desc, attr, g_engine, NULL), "matmul primitive_desc_create");
    DN(dnnl_primitive_create(&prim, pd), "matmul primitive_create");
    *pd_out = pd;
    *prim_out = prim;
    pd = NULL;
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return rc;
}

/// Finds or creates the cached primitive for key k. The returned entry stays valid until glmd_cache_clear.
static int lookup(const cache_key *k, cache_entry **out) {
    int rc = ensure_init();
    if (rc) return rc;
    uint64_t h = hash_bytes(k, sizeof *k);
    pthread_mutex_lock(&g_cache_lock);
    unsigned slot = (unsigned)(h % CACHE_SLOTS);
    for (int probe = 0; probe < CACHE_SLOTS; probe++, slot = (slot + 1) % CACHE_SLOTS) {
        cache_entry *e = &g_cache[slot];
        if (!e->used) break;
        if (e->hash == h && memcmp(&e->key, k, sizeof *k) == 0) {
            *out = e;
            pthread_mutex_unlock(&g_cache_lock);
            return 0;
        }
    }
    // Miss: keep the table at most 3/4 full (clearing everything is rare and always correct).
    if (g_cache_count >= CACHE_SLOTS * 3 / 4) cache_clear_locked();
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    rc = create_matmul(k, &pd, &prim);
    if (rc) {
        pthread_mutex_unlock(&g_cache_lock);
        return rc;
    }
    slot = (unsigned)(h % CACHE_SLOTS);
    while (g_cache[slot].used) slot = (slot + 1) % CACHE_SLOTS;
    cache_entry *e = &g_cache[slot];
    e->used = 1;
    e->hash = h;
    e->key = *k;
    e->pd = pd;
    e->prim = prim;
    g_cache_count++;
    *out = e;
    pthread_mutex_unlock(&g_cache_lock);
    return 0;
}

/// This thread's matmul scratchpad (grown on demand, kept for the thread's lifetime: a few MB at most).
static __thread void *t_scratch;
static __thread size_t t_scratch_bytes;

static void *thread_scratch(size_t bytes) {
    if (bytes <= t_scratch_bytes) return t_scratch;
    free(t_scratch);
    size_t rounded = (bytes + 4095) & ~(size_t)4095;
    t_scratch = aligned_alloc(64, rounded);
    t_scratch_bytes = t_scratch ? rounded : 0;
    return t_scratch;
}

/// Executes a cached primitive; memory objects wrap the caller's pointers (and this thread's scratchpad)
/// for the duration of the call.
static int execute(cache_entry *e, const void *A, const void *B, float *C) {
    int rc = 0;
    dnnl_memory_t mem[4] = {NULL, NULL, NULL, NULL};
    const dnnl_query_t q[4] = {dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md, dnnl_query_scratchpad_md};
    void *ptr[4] = {(void *)A, (void *)B, C, NULL};
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(e->pd, dnnl_query_scratchpad_md, 0);
    size_t sbytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
    int nmem = 3;
    if (sbytes > 0) {
        ptr[3] = thread_scratch(sbytes);
        if (!ptr[3]) return fail(-1, "matmul scratchpad: out of memory (%zu bytes)", sbytes);
        nmem = 4;
    }
    for (int t = 0; t < nmem; t++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(e->pd, q[t], 0);
        DN(dnnl_memory_create(&mem[t], md, g_engine, ptr[t]), "memory_create");
    }
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]}, {DNNL_ARG_DST, mem[2]},
                               {DNNL_ARG_SCRATCHPAD, mem[3]}};
    DN(dnnl_primitive_execute(e->prim, g_stream, nmem, args), "matmul execute");
    DN(dnnl_stream_wait(g_stream), "stream_wait");
done:
    for (int t = 0; t < nmem; t++)
        if (mem[t]) dnnl_memory_destroy(mem[t]);
    return rc;
}

int glmd_copy_strided(const int64_t dims[4], const float *src, const int64_t srcStride[4], float *dst,
                      const int64_t dstStride[4], float beta) {
    if (!dims || !src || !dst || !srcStride || !dstStride) return fail(-2, "glmd_copy_strided: NULL argument");
    for (int i = 0; i < 4; i++) {
        if (dims[i] < 0) return fail(-2, "glmd_copy_strided: negative dimension %lld", (long long)dims[i]);
        if (dims[i] == 0) return 0;
    }
    // A plain loop: head blocks are short contiguous rows (d floats), which a generic strided reorder
    // handles slowly; memcpy / a vectorised add per row runs at memory speed.
    const int contiguous = srcStride[3] == 1 && dstStride[3] == 1;
    for (int64_t i0 = 0; i0 < dims[0]; i0++)
        for (int64_t i1 = 0; i1 < dims[1]; i1++)
            for (int64_t i2 = 0; i2 < dims[2]; i2++) {
                const float *s = src + i0 * srcStride[0] + i1 * srcStride[1] + i2 * srcStride[2];
                float *d = dst + i0 * dstStride[0] + i1 * dstStride[1] + i2 * dstStride[2];
                if (contiguous && beta == 0.0f) {
                    memcpy(d, s, (size_t)dims[3] * sizeof(float));
                } else if (contiguous && beta == 1.0f) {
                    for (int64_t j = 0; j < dims[3]; j++) d[j] += s[j];
                } else {
                    for (int64_t j = 0; j < dims[3]; j++) {
                        float v = s[j * srcStride[3]];
                        d[j * dstStride[3]] = beta == 0.0f ? v : v + beta * d[j * dstStride[3]];
                    }
                }
            }
    return 0;
}

int glmd_matmul(int dtype, const glmd_matmul_shape *shape, const void *A, const void *B, float *C, float alpha,
                float beta) {
    if (!shape || !A || !B || !C) return fail(-2, "glmd_matmul: NULL argument");
    cache_key k;
    int rc = make_key(&k, dtype, shape, alpha, beta);
    if (rc) return rc;
    cache_entry *e;
    rc = lookup(&k, &e);
    if (rc) return rc;
    return execute(e, A, B, C);
}

const char *glmd_matmul_impl(int dtype, const glmd_matmul_shape *shape, float alpha, float beta) {
    cache_key k;
    if (!shape || make_key(&k, dtype, shape, alpha, beta)) return NULL;
    cache_entry *e;
    if (lookup(&k, &e)) return NULL;
    const char *name = NULL;
    if (dnnl_primitive_desc_query(e->pd, dnnl_query_impl_info_str, 0, &name) != dnnl_success) {
        fail(-1, "glmd_matmul_impl: query failed");
        return NULL;
    }
    return name;
}

// ---- FP32 sgemm -------------------------------------------------------------------------------------
int glmd_sgemm(int transA, int transB, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t lda,
               const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M < 0 || N < 0 || K < 0) return fail(-2, "glmd_sgemm: negative size M %lld N %lld K %lld", (long long)M, (long long)N, (long long)K);
    if (M == 0 || N == 0) return 0;
    apply_threads();
    if (K == 0) {  // C = beta·C (oneDNN's behaviour for K = 0 is not documented; do it here)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return 0;
    }
    dnnl_status_t st = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (st != dnnl_success)
        return fail(-(int)st - 1, "dnnl_sgemm(%c%c, M %lld, N %lld, K %lld, lda %lld, ldb %lld, ldc %lld) failed: %s",
                    transA ? 'T' : 'N', transB ? 'T' : 'N', (long long)M, (long long)N, (long long)K, (long long)lda,
                    (long long)ldb, (long long)ldc, status_name(st));
    return 0;
}

/// Fills the row/column strides of op(X) for a dense (rows, cols) matrix stored transposed or not.
static void op_strides(int64_t *s, int trans, int64_t rows, int64_t cols) {
    // op(X) is (rows, cols). Not transposed: X stored (rows, cols) → (cols, 1); transposed: X stored (cols, rows) → (1, rows).
    if (trans) {
        s[2] = 1;
        s[3] = rows;
    } else {
        s[2] = cols;
        s[3] = 1;
    }
}

int glmd_sgemm_batched(int transA, int transB, int64_t batch, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t strideA, const float *B, int64_t strideB, float beta, float *C,
                       int64_t strideC) {
    if (batch == 0 || M == 0 || N == 0) return 0;
    glmd_matmul_shape s = {.batch0 = batch, .batch1 = 1, .M = M, .N = N, .K = K};
    s.strideA[0] = strideA;
    s.strideB[0] = strideB;
    s.strideC[0] = strideC;
    s.strideA[1] = s.strideB[1] = s.strideC[1] = 0;
    op_strides(s.strideA, transA, M, K);
    op_strides(s.strideB, transB, K, N);
    op_strides(s.strideC, 0, M, N);
    return glmd_matmul(GLMD_F32, &s, A, B, C, alpha, beta);
}

int glmd_gemm_bf16(int transA, int transB, int64_t M, int64_t N, int64_t K, const uint16_t *A, const uint16_t *B,
                   float *C, int accumulate) {
    if (M == 0 || N == 0) return 0;
    glmd_matmul_shape s = {.batch0 = 1, .batch1 = 1, .M = M, .N = N, .K = K};
    op_strides(s.strideA, transA, M, K);
    op_strides(s.strideB, transB, K, N);
    op_strides(s.strideC, 0, M, N);
    s.strideA[0] = s.strideA[1] = s.strideB[0] = s.strideB[1] = s.strideC[0] = s.strideC[1] = 0;
    return glmd_matmul(GLMD_BF16, &s, A, B, C, 1.0f, accumulate ? 1.0f : 0.0f);
}

int glmd_gemm_bf16_ld(int transA, int transB, int64_t M, int64_t N, int64_t K, const uint16_t *A, int64_t lda,
                      const uint16_t *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    if (M == 0 || N == 0) return 0;
    glmd_matmul_shape s = {.batch0 = 1, .batch1 = 1, .M = M, .N = N, .K = K};
    s.strideA[2] = transA ? 1 : lda; s.strideA[3] = transA ? lda : 1;
    s.strideB[2] = transB ? 1 : ldb; s.strideB[3] = transB ? ldb : 1;
    s.strideC[2] = ldc; s.strideC[3] = 1;
    return glmd_matmul(GLMD_BF16, &s, A, B, C, 1.0f, beta);
}

// ---- pre-packed linear --------------------------------------------------------------------------------
/// One primitive per distinct M, all sharing the packed weight layout chosen at creation.
typedef struct packed_prim {
    int64_t M;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    struct packed_prim *next;
} packed_prim;

struct glmd_packed_linear {
    int64_t N, K;
    int dtype;
    dnnl_memory_desc_t wmd;  // packed weights layout (K, N)
    dnnl_memory_t wmem;      // owns the packed weights
    dnnl_memory_t bmem;      // bias (1, N) f32 or NULL
    float *bias;
    packed_prim *prims;
    uint16_t *xbf16;  // scratch for rounding x to bf16
    size_t xbf16_count;
};

/// The M used to choose the packed layout: decode sizes are where packing matters most.
enum { PACK_FOR_M = 8 };

static int packed_pd(glmd_packed_linear *p, int64_t M, const dnnl_memory_desc_t *wmd, dnnl_primitive_desc_t *out) {
    int rc = 0;
    dnnl_memory_desc_t src, dst, bias;
    dnnl_matmul_desc_t desc;
    dnnl_dims_t sd = {M, p->K}, dd = {M, p->N}, bd = {1, p->N};
    DN(dnnl_memory_desc_init_by_tag(&src, 2, sd, dnnl_type(p->dtype), dnnl_ab), "memory_desc_init_by_tag(src)");
    DN(dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab), "memory_desc_init_by_tag(dst)");
    if (p->bias) DN(dnnl_memory_desc_init_by_tag(&bias, 2, bd, dnnl_f32, dnnl_ab), "memory_desc_init_by_tag(bias)");
    DN(dnnl_matmul_desc_init(&desc, &src, wmd, p->bias ? &bias : NULL, &dst), "matmul_desc_init(packed)");
    DN(dnnl_primitive_desc_create(out, &desc, NULL, g_engine, NULL), "primitive_desc_create(packed linear)");
done:
    return rc;
}

static glmd_packed_linear *packed_create(const void *W, int wdtype, const float *bias, int64_t N, int64_t K, int dtype) {
    int rc = 0;
    glmd_packed_linear *p = NULL;
    dnnl_primitive_desc_t pd = NULL, rpd = NULL;
    dnnl_primitive_t reorder = NULL;
    dnnl_memory_t src = NULL;
    if (ensure_init()) return NULL;
    if (!W || N < 1 || K < 1 || (dtype != GLMD_F32 && dtype != GLMD_BF16)) {
        fail(-2, "glmd_packed_linear_create: bad arguments (N %lld, K %lld, dtype %d)", (long long)N, (long long)K, dtype);
        return NULL;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        fail(-2, "glmd_packed_linear_create: out of memory");
        return NULL;
    }
    p->N = N;
    p->K = K;
    p->dtype = dtype;
    if (bias) {
        p->bias = malloc((size_t)N * sizeof(float));
        if (!p->bias) {
            rc = fail(-2, "glmd_packed_linear_create: out of memory");
            goto done;
        }
        memcpy(p->bias, bias, (size_t)N * sizeof(float));
    }
    // Ask oneDNN for its preferred weight layout ("any"), then reorder W (N, K) = (K, N) with strides (1, K) into it.
    dnnl_memory_desc_t any, plain;
    dnnl_dims_t wd = {K, N}, ws = {1, K};
    DN(dnnl_memory_desc_init_by_tag(&any, 2, wd, dnnl_type(dtype), dnnl_format_tag_any), "memory_desc_init_by_tag(any)");
    rc = packed_pd(p, PACK_FOR_M, &any, &pd);
    if (rc) goto done;
    p->wmd = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    DN(dnnl_memory_desc_init_by_strides(&plain, 2, wd, wdtype == GLMD_BF16 ? dnnl_bf16 : dnnl_f32, ws), "memory_desc_init_by_strides(W)");
    DN(dnnl_memory_create(&src, &plain, g_engine, (void *)W), "memory_create(W)");
    DN(dnnl_memory_create(&p->wmem, &p->wmd, g_engine, DNNL_MEMORY_ALLOCATE), "memory_create(packed W)");
    DN(dnnl_reorder_primitive_desc_create(&rpd, &plain, g_engine, &p->wmd, g_engine, NULL), "reorder_primitive_desc_create");
    DN(dnnl_primitive_create(&reorder, rpd), "reorder primitive_create");
    dnnl_exec_arg_t rargs[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, p->wmem}};
    DN(dnnl_primitive_execute(reorder, g_stream, 2, rargs), "reorder execute");
    DN(dnnl_stream_wait(g_stream), "stream_wait");
    if (p->bias) {
        dnnl_memory_desc_t bmd;
        dnnl_dims_t bd = {1, N};
        DN(dnnl_memory_desc_init_by_tag(&bmd, 2, bd, dnnl_f32, dnnl_ab), "memory_desc_init_by_tag(bias)");
        DN(dnnl_memory_create(&p->bmem, &bmd, g_engine, p->bias), "memory_create(bias)");
    }
    // Keep the primitive made for PACK_FOR_M: it is already the one for that M.
    packed_prim *pp = calloc(1, sizeof *pp);
    if (!pp) {
        rc = fail(-2, "glmd_packed_linear_create: out of memory");
        goto done;
    }
    pp->M = PACK_FOR_M;
    pp->pd = pd;
    pd = NULL;
    rc = -(int)dnnl_primitive_create(&pp->prim, pp->pd);
    p->prims = pp;
    if (rc) {
        rc = fail(-1, "packed linear primitive_create failed");
        goto done;
    }
done:
    if (reorder) dnnl_primitive_destroy(reorder);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    if (src) dnnl_memory_destroy(src);
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (rc) {
        glmd_packed_linear_destroy(p);
        return NULL;
    }
    return p;
}

glmd_packed_linear *glmd_packed_linear_create(const float *W, const float *bias, int64_t N, int64_t K, int dtype) {
    return packed_create(W, GLMD_F32, bias, N, K, dtype);
}

glmd_packed_linear *glmd_packed_linear_create_bf16(const uint16_t *W, const float *bias, int64_t N, int64_t K) {
    return packed_create(W, GLMD_BF16, bias, N, K, GLMD_BF16);
}

size_t glmd_packed_linear_bytes(const glmd_packed_linear *p) { return p ? dnnl_memory_desc_get_size(&p->wmd) : 0; }

static uint16_t f32_to_bf16_rne(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);  // quiet NaN
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

int glmd_packed_linear_run(glmd_packed_linear *p, const float *x, int64_t M, float *y) {
    int rc = 0;
    if (!p || !x || !y || M < 0) return fail(-2, "glmd_packed_linear_run: bad arguments");
    if (M == 0) return 0;
    apply_threads();
    packed_prim *pp = p->prims;
    while (pp && pp->M != M) pp = pp->next;
    if (!pp) {
        pp = calloc(1, sizeof *pp);
        if (!pp) return fail(-2, "glmd_packed_linear_run: out of memory");
        pp->M = M;
        rc = packed_pd(p, M, &p->wmd, &pp->pd);
        if (!rc && dnnl_primitive_create(&pp->prim, pp->pd) != dnnl_success)
            rc = fail(-1, "packed linear primitive_create failed for M %lld", (long long)M);
        if (rc) {
            if (pp->pd) dnnl_primitive_desc_destroy(pp->pd);
            free(pp);
            return rc;
        }
        pp->next = p->prims;
        p->prims = pp;
    }
    const void *src_ptr = x;
    if (p->dtype == GLMD_BF16) {
        size_t n = (size_t)M * (size_t)p->K;
        if (p->xbf16_count < n) {
            free(p->xbf16);
            p->xbf16 = malloc(n * sizeof(uint16_t));
            p->xbf16_count = p->xbf16 ? n : 0;
            if (!p->xbf16) return fail(-2, "glmd_packed_linear_run: out of memory");
        }
        for (size_t i = 0; i < n; i++) p->xbf16[i] = f32_to_bf16_rne(x[i]);
        src_ptr = p->xbf16;
    }
    dnnl_memory_t src = NULL, dst = NULL;
    DN(dnnl_memory_create(&src, dnnl_primitive_desc_query_md(pp->pd, dnnl_query_src_md, 0), g_engine, (void *)src_ptr),
       "memory_create(x)");
    DN(dnnl_memory_create(&dst, dnnl_primitive_desc_query_md(pp->pd, dnnl_query_dst_md, 0), g_engine, y), "memory_create(y)");
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p->wmem}, {DNNL_ARG_DST, dst}, {DNNL_ARG_BIAS, p->bmem}};
    DN(dnnl_primitive_execute(pp->prim, g_stream, p->bmem ? 4 : 3, args), "packed linear execute");
    DN(dnnl_stream_wait(g_stream), "stream_wait");
done:
    if (src) dnnl_memory_destroy(src);
    if (dst) dnnl_memory_destroy(dst);
    return rc;
}

void glmd_packed_linear_destroy(glmd_packed_linear *p) {
    if (!p) return;
    packed_prim *pp = p->prims;
    while (pp) {
        packed_prim *next = pp->next;
        if (pp->prim) dnnl_primitive_destroy(pp->prim);
        if (pp->pd) dnnl_primitive_desc_destroy(pp->pd);
        free(pp);
        pp = next;
    }
    if (p->wmem) dnnl_memory_destroy(p->wmem);
    if (p->bmem) dnnl_memory_destroy(p->bmem);
    free(p->bias);
    free(p->xbf16);
    free(p);
}
