import ArgumentParser
import Foundation
import GLMBenchmarks
import GLMEngine

/// `glm bench ops`: GEMM GFLOP/s at GLM shapes and memory-bound kernels in GB/s, each next to its ceiling.
struct BenchOpsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ops",
        abstract: "GEMM and kernel throughput at GLM shapes, next to the machine ceilings (docs/perf-notes.md)."
    )

    @Option(name: .long, help: "Threads for oneDNN and the kernels (one shared OpenMP pool).")
    var threads: Int = 2

    @Option(name: .long, help: "Timed repeats per GEMM (median reported).")
    var repeats: Int = 7

    @Option(name: .long, help: "Elements of the large tensors for the memory-bound kernels (default 48 Mi floats = 192 MB, beyond the caches).")
    var elements: Int = 48 << 20

    @Flag(name: .long, help: "Report the fastest repeat instead of the median (useful when the machine is shared).")
    var best = false

    @Flag(name: .long, help: "Skip the memory-bound kernels.")
    var gemmOnly = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be ≥ 1") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be ≥ 1") }
        guard elements >= 1 << 20 else { throw ValidationError("--elements must be ≥ 1048576") }
    }

    func run() throws {
        Runtime.setThreads(threads)
        print("glm bench ops — \(Runtime.threads) thread(s), CPU level \(Runtime.cpuLevel) (3 = AVX-512 + BF16)")
        print("ceilings: FP32 \(Int(OpsBenchmark.fp32PeakPerCore * Double(threads))) GFLOP/s, "
              + "bf16 \(Int(OpsBenchmark.bf16PeakPerCore * Double(threads))) GFLOP/s, memory \(Int(OpsBenchmark.memoryBandwidth)) GB/s\n")
        let before = MeasuredCeilings.probe(threads: threads)
        let statistic: OpsBenchmark.Statistic = best ? .best : .median
        var rows = try OpsBenchmark.gemm(threads: threads, repeats: repeats, statistic: statistic)
        if !gemmOnly { rows += OpsBenchmark.elementwise(elements: elements, statistic: statistic) }
        let after = MeasuredCeilings.probe(threads: threads)
        // The better of the two probes (taken before and after) is the ceiling closest to the machine's.
        let ceilings = MeasuredCeilings(fp32: max(before.fp32, after.fp32), bf16: max(before.bf16, after.bf16),
                                        memory: max(before.memory, after.memory))
        print(String(format: "probed now: FP32 %.0f GFLOP/s, bf16 %.0f GFLOP/s, triad %.1f GB/s", ceilings.fp32, ceilings.bf16, ceilings.memory))
        print("load average: \(OpsBenchmark.loadAverage()); reporting the \(statistic.rawValue) of \(repeats) repeats\n")
        print(OpsBenchmark.table(ceilings.annotate(rows)))
        // What `--dtype auto` of pretrain/finetune/bench train|forward would pick here, and why.
        let probe = try ComputeProbe.run()
        print("\nbf16 native-fast here: \(probe.bf16IsNativeAndFaster ? "yes" : "no") — --dtype auto picks \(probe.summary)")
    }
}
