import CGLMOneDNN
import CGLMKernels

/// Process-wide runtime settings shared by the kernels and oneDNN (one GNU OpenMP pool for both, so the
/// two never oversubscribe the cores).
public enum Runtime {
    /// Threads used by the kernels and by oneDNN.
    public static var threads: Int { Int(glmk_num_threads()) }

    /// Sets the thread count of the shared OpenMP pool (kernels and oneDNN alike), process-wide: every
    /// oneDNN call applies it to the thread it runs on, whichever thread that is.
    public static func setThreads(_ n: Int) {
        glmk_set_num_threads(Int32(max(1, n)))
        glmd_set_num_threads(Int32(max(1, n)))
    }

    /// 0 scalar, 1 AVX2+FMA, 2 AVX-512, 3 AVX-512 + AVX512_BF16 (capped by GLM_CPU_LEVEL).
    public static var cpuLevel: Int { Int(glmk_cpu_level()) }
}
