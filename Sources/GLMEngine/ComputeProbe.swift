import CGLMOneDNN
import Dispatch

/// Which GEMM input type trains and runs forward passes fastest on THIS machine, measured rather than
/// assumed: the CPU's native bf16 support (AVX512_BF16 or AMX-BF16) and one timed oneDNN matmul per type at
/// a training-like shape (tokens × hidden → 4·hidden of GLM-base, 1024 × 768 × 3072). Machines differ:
/// on Zen 4/5 bf16 products run at ~2× FP32, on some Xeons without AMX oneDNN's bf16 is slower than FP32,
/// and without native bf16 oneDNN emulates it. `--dtype auto` picks bf16 only when it is native AND
/// measured at least `margin` times faster here.
public struct ComputeProbe: Sendable {
    /// 0 none, 1 AVX512_BF16, 2 AMX-BF16 (`glmd_cpu_has_bf16`).
    public let nativeBF16: Int32
    /// Best-of-rounds GFLOP/s of the probe product in each type, and oneDNN's implementation for bf16.
    public let fp32GFLOPS: Double, bf16GFLOPS: Double
    public let bf16Implementation: String
    public let shape: (m: Int, k: Int, n: Int)
    /// bf16 must beat fp32 by this factor to be chosen (a noisy, shared machine can swing a probe by 10–20 %).
    public static let margin = 1.15

    public var bf16Speedup: Double { fp32GFLOPS > 0 ? bf16GFLOPS / fp32GFLOPS : 0 }
    /// Native bf16 AND measurably faster than fp32 here.
    public var bf16IsNativeAndFaster: Bool { nativeBF16 != 0 && bf16Speedup >= Self.margin }
    /// What `auto` resolves to.
    public var choice: GEMMInputType { bf16IsNativeAndFaster ? .bfloat16 : .float32 }

    /// Whether this CPU computes bf16 natively (AVX512_BF16 or AMX-BF16), without timing anything.
    public static var cpuHasNativeBF16: Bool { glmd_cpu_has_bf16() != 0 }

    public var nativeName: String { nativeBF16 == 1 ? "AVX512_BF16" : nativeBF16 == 2 ? "AMX-BF16" : "no native bf16" }

    /// One line: what was measured and why `choice` follows.
    public var summary: String {
        let rates = "oneDNN matmul \(shape.m)×\(shape.k)×\(shape.n): bf16 \(Int(bf16GFLOPS.rounded())) vs fp32 \(Int(fp32GFLOPS.rounded())) GFLOP/s (\(String(format: "%.2f", bf16Speedup))×, \(bf16Implementation))"
        if nativeBF16 == 0 { return "fp32: this CPU has no native bf16 (\(rates))" }
        return bf16IsNativeAndFaster ? "bf16: \(nativeName) native and faster here (\(rates))"
                                     : "fp32: \(nativeName) native but bf16 is not ≥ \(Self.margin)× faster here (\(rates))"
    }

    /// Runs the probe (about 0.2–0.5 s on 2 cores): after one untimed product per type, `rounds`
    /// alternating fp32/bf16 products, best time of each.
    public static func run(backend: OneDNNBackend = .shared, m: Int = 1024, k: Int = 768, n: Int = 3072,
                           rounds: Int = 4) throws -> ComputeProbe {
        let native = glmd_cpu_has_bf16()
        let x = Tensor.randomNormal([m, k], std: 1, seed: 1), w = Tensor.randomNormal([n, k], std: 0.02, seed: 2)
        let xb = x.toBFloat16(), wb = w.toBFloat16()
        let y = Tensor(uninitialized: [m, n])
        let p = StridedMatmul(m: m, n: n, k: k, strideA: [0, 0, k, 1], strideB: [0, 0, 1, k], strideC: [0, 0, n, 1])
        func seconds(_ type: GEMMInputType) throws -> Double {
            let (a, b) = type == .bfloat16 ? (xb.rawPointer, wb.rawPointer) : (x.rawPointer, w.rawPointer)
            let t0 = DispatchTime.now().uptimeNanoseconds
            try backend.matmul(p, input: type, a: a, b: b, c: y.floats, alpha: 1, beta: 0)
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        _ = try seconds(.float32); _ = try seconds(.bfloat16)
        var best32 = Double.infinity, best16 = Double.infinity
        for _ in 0..<max(rounds, 1) {
            best32 = min(best32, try seconds(.float32))
            best16 = min(best16, try seconds(.bfloat16))
        }
        let flops = 2 * Double(m) * Double(n) * Double(k)
        return ComputeProbe(nativeBF16: native, fp32GFLOPS: flops / best32 / 1e9, bf16GFLOPS: flops / best16 / 1e9,
                            bf16Implementation: backend.implementationName(p, input: .bfloat16) ?? "?", shape: (m, k, n))
    }
}
