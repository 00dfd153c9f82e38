// glm_probe.c — machine-ceiling probes for `glm bench ops` (see glm_dnnl.h). Plain pthreads, so the probes
// do not depend on (or disturb) the OpenMP pool the GEMMs use.
#include "glm_dnnl.h"

#include <immintrin.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

typedef struct {
    int kind;  // 0 fp32 fma, 1 bf16 dp, 2 triad
    double seconds;
    double flops_or_bytes;
    float *a, *b, *c;
    size_t n;
    float sink;
} probe_arg;

enum { BLOCK = 1 << 16 };

__attribute__((target("avx512f"))) static double fma512_block(float *sink) {
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_set1_ps((float)i);
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int it = 0; it < BLOCK; it++) {
        for (int j = 0; j < 16; j++) acc[j] = _mm512_fmadd_ps(acc[j], x, y);
    }
    __m512 s = acc[0];
    for (int j = 1; j < 16; j++) s = _mm512_add_ps(s, acc[j]);
    *sink += _mm512_reduce_add_ps(s);
    return 2.0 * 16 * 16 * BLOCK;
}

__attribute__((target("avx2,fma"))) static double fma256_block(float *sink) {
    __m256 acc[12];
    for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
    const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int it = 0; it < BLOCK; it++) {
        for (int j = 0; j < 12; j++) acc[j] = _mm256_fmadd_ps(acc[j], x, y);
    }
    float out[8];
    __m256 s = acc[0];
    for (int j = 1; j < 12; j++) s = _mm256_add_ps(s, acc[j]);
    _mm256_storeu_ps(out, s);
    *sink += out[0];
    return 2.0 * 8 * 12 * BLOCK;
}

__attribute__((target("avx512f,avx512bf16"))) static double bf16_block(float *sink) {
    __m512 acc[16];
    for (int i = 0; i < 16; i++) acc[i] = _mm512_setzero_ps();
    const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3380);
    for (int it = 0; it < BLOCK; it++) {
        for (int j = 0; j < 16; j++) acc[j] = _mm512_dpbf16_ps(acc[j], x, y);
    }
    __m512 s = acc[0];
    for (int j = 1; j < 16; j++) s = _mm512_add_ps(s, acc[j]);
    *sink += _mm512_reduce_add_ps(s);
    return 2.0 * 32 * 16 * BLOCK;
}

static void *probe_thread(void *p) {
    probe_arg *a = p;
    double t0 = now_s(), work = 0;
    int has512 = __builtin_cpu_supports("avx512f");
    do {
        if (a->kind == 0) work += has512 ? fma512_block(&a->sink) : fma256_block(&a->sink);
        else if (a->kind == 1) work += bf16_block(&a->sink);
        else {
            for (size_t i = 0; i < a->n; i++) a->a[i] = a->b[i] + 1.5f * a->c[i];
            a->sink += a->a[a->n / 2];
            work += 3.0 * (double)a->n * sizeof(float);
        }
    } while (now_s() - t0 < a->seconds);
    a->flops_or_bytes = work / (now_s() - t0);
    return NULL;
}

static double run_probe(int kind, int threads, size_t bytes, double seconds) {
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    probe_arg *args = calloc((size_t)threads, sizeof *args);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!args || !tids) {
        free(args);
        free(tids);
        return 0;
    }
    double total = 0;
    int ok = 1;
    for (int t = 0; t < threads; t++) {
        args[t].kind = kind;
        args[t].seconds = seconds;
        if (kind == 2) {
            args[t].n = bytes / sizeof(float) / (size_t)threads;
            args[t].a = malloc(args[t].n * sizeof(float));
            args[t].b = malloc(args[t].n * sizeof(float));
            args[t].c = malloc(args[t].n * sizeof(float));
            if (!args[t].a || !args[t].b || !args[t].c) ok = 0;
            else {
                memset(args[t].a, 0, args[t].n * sizeof(float));
                for (size_t i = 0; i < args[t].n; i++) args[t].b[i] = args[t].c[i] = 1.0f;
            }
        }
    }
    if (ok) {
        for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, probe_thread, &args[t]);
        for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
        for (int t = 0; t < threads; t++) total += args[t].flops_or_bytes;
    }
    for (int t = 0; t < threads; t++) {
        free(args[t].a);
        free(args[t].b);
        free(args[t].c);
    }
    free(args);
    free(tids);
    return total / 1e9;
}

double glmd_probe_fp32_peak(int threads, double seconds) { return run_probe(0, threads, 0, seconds); }

double glmd_probe_bf16_peak(int threads, double seconds) {
    if (!__builtin_cpu_supports("avx512f")) return 0;
    unsigned eax, ebx, ecx, edx;
    __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(1));
    if (!(eax & (1u << 5))) return 0;  // CPUID.(7,1):EAX bit 5 = AVX512_BF16
    return run_probe(1, threads, 0, seconds);
}

double glmd_probe_triad_bandwidth(int threads, size_t bytes_per_array, double seconds) {
    return run_probe(2, threads, bytes_per_array, seconds);
}

int glmd_cpu_has_bf16(void) {
    unsigned eax, ebx, ecx, edx;
    if (__builtin_cpu_supports("avx512f")) {
        __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(1));
        if (eax & (1u << 5)) return 1;  // CPUID.(7,1):EAX bit 5 = AVX512_BF16
    }
    __asm__("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(0));
    return (edx & (1u << 22)) ? 2 : 0;  // CPUID.(7,0):EDX bit 22 = AMX-BF16
}
