import ArgumentParser
import Engine
import Foundation

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
        var rows = try OpsBenchmark.gemm(threads: threads, repeats: repeats)
        if !gemmOnly { rows += OpsBenchmark.elementwise(elements: elements) }
        print(Self.table(rows))
    }

    static func table(_ rows: [BenchmarkRow]) -> String {
        func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
            let p = String(repeating: " ", count: max(0, w - s.count))
            return right ? p + s : s + p
        }
        var out = pad("op", 20) + pad("shape", 20) + pad("type", 6) + pad("rate", 10, right: true) + "  "
            + pad("unit", 8) + pad("ceiling", 8, right: true) + pad("share", 8, right: true) + "\n"
        out += String(repeating: "-", count: 80) + "\n"
        for r in rows {
            out += pad(r.name, 20) + pad(r.shape, 20) + pad(r.dtype, 6) + pad(String(format: "%.1f", r.rate), 10, right: true)
                + "  " + pad(r.unit, 8) + pad(String(format: "%.0f", r.ceiling), 8, right: true)
                + pad(String(format: "%.0f %%", r.share * 100), 8, right: true) + "\n"
        }
        return out
    }
}
