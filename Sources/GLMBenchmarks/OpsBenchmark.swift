import CGLMOneDNN
import CGLMKernels
import GLMEngine
import Foundation

/// One line of `glm bench ops`: a measured rate next to the machine ceiling it should be compared with.
public struct BenchmarkRow: Sendable {
    public let name: String
    public let shape: String
    public let dtype: String
    /// Measured rate (median over repeats) in `unit`.
    public let rate: Double
    public let unit: String
    /// The ceiling for this row from docs/perf-notes.md (compute peak or memory bandwidth, per thread count).
    public let ceiling: Double
    public var share: Double { rate / ceiling }
    /// The same kind of ceiling probed in this run (nil if not probed): on a shared machine the share of
    /// THIS is the meaningful one (perf-notes: compare ratios measured side by side).
    public var measuredCeiling: Double?
    public var measuredShare: Double? { measuredCeiling.map { rate / $0 } }
}

/// Ceilings probed on this machine in this run (pthreads FMA / vdpbf16ps loops and a memory triad).
public struct MeasuredCeilings: Sendable {
    public let fp32: Double, bf16: Double, memory: Double

    public init(fp32: Double, bf16: Double, memory: Double) {
        self.fp32 = fp32; self.bf16 = bf16; self.memory = memory
    }

    public static func probe(threads: Int, seconds: Double = 0.5) -> MeasuredCeilings {
        MeasuredCeilings(fp32: glmd_probe_fp32_peak(Int32(threads), seconds),
                         bf16: glmd_probe_bf16_peak(Int32(threads), seconds),
                         memory: glmd_probe_triad_bandwidth(Int32(threads), 256 << 20, seconds))
    }

    /// Attaches the matching measured ceiling to each row (by unit and dtype).
    public func annotate(_ rows: [BenchmarkRow]) -> [BenchmarkRow] {
        rows.map { r in
            var r = r
            r.measuredCeiling = r.unit == "GB/s" ? memory : (r.dtype == "bf16" ? (bf16 > 0 ? bf16 : nil) : fp32)
            return r
        }
    }
}

/// Micro-benchmarks of the engine's hot paths at GLM shapes (the `glm bench ops` command prints them).
/// Ceilings come from docs/perf-notes.md for this machine kind: FP32 FMA ≈ 270 GFLOP/s per core, bf16 dot
/// products ≈ 540 GFLOP/s per core, memory ≈ 42 GB/s (2 cores; the thread count does not raise it).
public enum OpsBenchmark {
    public static let fp32PeakPerCore = 270.0
    public static let bf16PeakPerCore = 540.0
    public static let memoryBandwidth = 42.0

    /// Which time of the repeats is reported: the median (default, as in perf-notes) or the fastest run
    /// (closest to the machine's capability when other processes compete for the cores).
    public enum Statistic: String, Sendable { case median, best }

    /// Median (or fastest) seconds of `repeats` runs of `body` after one warm-up run.
    static func time(repeats: Int, _ statistic: Statistic, _ body: () throws -> Void) rethrows -> Double {
        try body()
        var ts: [Double] = []
        for _ in 0..<max(1, repeats) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            ts.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return statistic == .best ? ts.min()! : ts.sorted()[ts.count / 2]
    }

    /// GEMM rows: FP32 and bf16 at GLM-base shapes (M×K×N: tokens × in × out, nn.Linear layout),
    /// the batched attention product, and the packed decode product.
    public static func gemm(threads: Int, repeats: Int = 7, statistic: Statistic = .median) throws -> [BenchmarkRow] {
        let backend = OneDNNBackend.shared
        let fp32Peak = fp32PeakPerCore * Double(threads), bf16Peak = bf16PeakPerCore * Double(threads)
        var rows: [BenchmarkRow] = []
        for (m, k, n) in [(2048, 768, 2304), (2048, 3072, 768)] {
            let x = Tensor.randomNormal([m, k], seed: 1), w = Tensor.randomNormal([n, k], seed: 2)
            let y = Tensor(uninitialized: [m, n])
            let flops = 2.0 * Double(m * n * k)
            let t = try time(repeats: repeats, statistic) {
                try backend.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: x.floats, lda: k,
                                 b: w.floats, ldb: k, beta: 0, c: y.floats, ldc: n)
            }
            rows.append(BenchmarkRow(name: "linear (sgemm)", shape: "\(m)×\(k)×\(n)", dtype: "fp32",
                                     rate: flops / t / 1e9, unit: "GFLOP/s", ceiling: fp32Peak))
            let xb = x.toBFloat16(), wb = w.toBFloat16()
            let p = StridedMatmul(m: m, n: n, k: k, strideA: [0, 0, k, 1], strideB: [0, 0, 1, k], strideC: [0, 0, n, 1])
            let tb = try time(repeats: repeats, statistic) {
                try backend.matmul(p, input: .bfloat16, a: xb.rawPointer, b: wb.rawPointer, c: y.floats, alpha: 1, beta: 0)
            }
            rows.append(BenchmarkRow(name: "linear (matmul)", shape: "\(m)×\(k)×\(n)", dtype: "bf16",
                                     rate: flops / tb / 1e9, unit: "GFLOP/s", ceiling: bf16Peak))
        }
        // attention scores: 24 heads × (512×64)·(64×512)
        do {
            let b = 24, m = 512, k = 64, n = 512
            let a = Tensor.randomNormal([b, m, k], seed: 3), bt = Tensor.randomNormal([b, n, k], seed: 4)
            let c = Tensor(uninitialized: [b, m, n])
            let p = StridedMatmul(batch0: b, m: m, n: n, k: k, strideA: [m * k, 0, k, 1], strideB: [n * k, 0, 1, k],
                                  strideC: [m * n, 0, n, 1])
            let flops = 2.0 * Double(b * m * n * k)
            for (type, aa, bb, peak) in [(GEMMInputType.float32, a, bt, fp32Peak),
                                         (.bfloat16, a.toBFloat16(), bt.toBFloat16(), bf16Peak)] {
                let t = try time(repeats: repeats, statistic) {
                    try backend.matmul(p, input: type, a: aa.rawPointer, b: bb.rawPointer, c: c.floats, alpha: 1, beta: 0)
                }
                rows.append(BenchmarkRow(name: "batched QKᵀ", shape: "\(b)×\(m)×\(k)×\(n)", dtype: type == .float32 ? "fp32" : "bf16",
                                         rate: flops / t / 1e9, unit: "GFLOP/s", ceiling: peak))
            }
        }
        // the whole attention op (GLM-base: b 2, s 512, 12 heads × 64) on a fused QKV tensor, forward and
        // forward + backward, counting only GEMM flops (softmax and bookkeeping are overhead here).
        do {
            let b = 2, s = 512, heads = 12, h = 768
            let qkvValues = Tensor.randomNormal([b, s, 3 * h], seed: 12)
            let qkv = Variable(qkvValues)
            let mask = try AttentionMask.glm(seps: [200], batch: b, queryLength: s)
            let dy = Tensor.randomNormal([b, s, h], seed: 13)
            let fwdFlops = 4.0 * Double(b * heads * s * s * (h / heads))
            let tf = try time(repeats: repeats, statistic) { _ = try Tape.inference().attention(qkv: qkv, heads: heads, mask: mask) }
            rows.append(BenchmarkRow(name: "attention fwd", shape: "2×512×12×64", dtype: "fp32",
                                     rate: fwdFlops / tf / 1e9, unit: "GFLOP/s", ceiling: fp32Peak))
            let tb = try time(repeats: repeats, statistic) {
                let tape = Tape()
                let fresh = Variable(qkvValues, requiresGrad: true)  // a fresh gradient, as for an op output
                let out = try tape.attention(qkv: fresh, heads: heads, mask: mask)
                try tape.backward(from: out, gradient: dy)
            }
            rows.append(BenchmarkRow(name: "attention fwd+bwd", shape: "2×512×12×64", dtype: "fp32",
                                     rate: 3 * fwdFlops / tb / 1e9, unit: "GFLOP/s", ceiling: fp32Peak))
        }
        // decode: one token through a packed 1024 → 4096 weight
        do {
            let k = 1024, n = 4096
            let w = Tensor.randomNormal([n, k], seed: 5), bias = Tensor.randomNormal([n], seed: 6)
            let x = Tensor.randomNormal([1, k], seed: 7), y = Tensor(uninitialized: [1, n])
            // int8: weight-only (glmk_linear_int8w_forward), fp32 FMAs, so the fp32 ceiling.
            for (type, peak) in [(GEMMInputType.float32, fp32Peak), (.bfloat16, bf16Peak), (.int8, fp32Peak)] {
                let packed = try backend.packLinear(weight: w.floats, bias: bias.floats, outFeatures: n, inFeatures: k, storage: type)
                let t = try time(repeats: repeats * 20, statistic) { try packed.apply(x: x.floats, rows: 1, y: y.floats) }
                rows.append(BenchmarkRow(name: "packed linear", shape: "1×\(k)×\(n)", dtype: type.shortName,
                                         rate: 2.0 * Double(n * k) / t / 1e9, unit: "GFLOP/s", ceiling: peak))
            }
            // bf16 weights in their plain layout (memory-mapped decoding: glmk_linear_bf16w_forward, fp32 x and
            // math), beside oneDNN's packed bf16 product above (which also rounds x to bf16).
            let plainWeights = w.toBFloat16()
            let plain = try PlainBF16Linear(weights: UnsafeRawPointer(plainWeights.bf16), bias: bias.floats, outFeatures: n,
                                            inFeatures: k, owner: plainWeights.storage)
            let tp = try time(repeats: repeats * 20, statistic) { try plain.apply(x: x.floats, rows: 1, y: y.floats) }
            rows.append(BenchmarkRow(name: "plain bf16 linear", shape: "1×\(k)×\(n)", dtype: "bf16",
                                     rate: 2.0 * Double(n * k) / tp / 1e9, unit: "GFLOP/s", ceiling: fp32Peak))
        }
        return rows
    }

    /// Memory-bound kernels on tensors far larger than the caches; rates count the bytes each kernel must
    /// move (reads + writes of the big tensors), compared with the memory bandwidth.
    public static func elementwise(elements: Int = 48 << 20, repeats: Int = 5, statistic: Statistic = .median) -> [BenchmarkRow] {
        var rows: [BenchmarkRow] = []
        let n = elements
        let c = 768, r = n / c
        let x = Tensor.randomNormal([r, c], seed: 8), y = Tensor(uninitialized: [r, c])
        let w = Tensor.randomNormal([c], seed: 9), b = Tensor.randomNormal([c], seed: 10)
        let mean = Tensor(uninitialized: [r]), rstd = Tensor(uninitialized: [r])
        let dw = Tensor(zeros: [c]), db = Tensor(zeros: [c])
        let bytes = Double(r * c * 4)
        func row(_ name: String, _ shape: String, _ moved: Double, _ t: Double) {
            rows.append(BenchmarkRow(name: name, shape: shape, dtype: "fp32", rate: moved / t / 1e9, unit: "GB/s",
                                     ceiling: memoryBandwidth))
        }
        let tf = time(repeats: repeats, statistic) {
            glmk_layernorm_forward(y.floats, mean.floats, rstd.floats, x.floats, w.floats, b.floats, r, c, 1e-5)
        }
        row("layerNorm fwd", "\(r)×\(c)", 2 * bytes, tf)
        let dx = Tensor(uninitialized: [r, c])
        let tb = time(repeats: repeats, statistic) {
            glmk_layernorm_backward(dx.floats, dw.floats, db.floats, y.floats, x.floats, w.floats, mean.floats, rstd.floats, r, c)
        }
        row("layerNorm bwd", "\(r)×\(c)", 3 * bytes, tb)
        let tg = time(repeats: repeats, statistic) { glmk_gelu_forward(y.floats, x.floats, r * c) }
        row("gelu fwd", "\(r * c)", 2 * bytes, tg)
        let tgb = time(repeats: repeats, statistic) { glmk_gelu_backward(dx.floats, y.floats, x.floats, r * c) }
        row("gelu bwd", "\(r * c)", 3 * bytes, tgb)
        // masked softmax: heads × q × k with one shared causal mask [1, q, k]
        let q = 512, k = 512, heads = max(1, n / (q * k))
        let mask = (try? AttentionMask.glm(seps: [128], batch: 1, queryLength: q)) ?? Tensor(zeros: [1, q, k])
        let s = try! x.reshaped([-1]).slice(0..<(heads * q * k)), p = try! y.reshaped([-1]).slice(0..<(heads * q * k))
        let sbytes = Double(heads * q * k * 4)
        let ts = time(repeats: repeats, statistic) {
            glmk_masked_softmax_forward(p.floats, s.floats, mask.floats, 1, heads, q, k, 1, 0.125)
        }
        row("masked softmax fwd", "\(heads)×\(q)×\(k)", 2 * sbytes, ts)
        let tsb = time(repeats: repeats, statistic) {
            glmk_masked_softmax_backward(dx.floats, s.floats, p.floats, mask.floats, 1, heads, q, k, 1, 0.125)
        }
        row("masked softmax bwd", "\(heads)×\(q)×\(k)", 3 * sbytes, tsb)
        // AdamW over one big parameter: reads p, g, m, v; writes p, m, v.
        let na = n / 2
        let pa = Tensor.randomNormal([na], seed: 11), ga = Tensor.randomNormal([na], seed: 12)
        let ma = Tensor(zeros: [na]), va = Tensor(zeros: [na])
        var step: Int64 = 0
        let ta = time(repeats: repeats, statistic) {
            step += 1
            var pp: UnsafeMutablePointer<Float>? = pa.floats, mm: UnsafeMutablePointer<Float>? = ma.floats
            var vv: UnsafeMutablePointer<Float>? = va.floats
            var gg: UnsafePointer<Float>? = UnsafePointer(ga.floats)
            var size = na
            var wd: Float = 0.01
            glmk_adamw_step(1, &pp, &gg, &mm, &vv, &size, &wd, 1e-4, 0.9, 0.999, 1e-8, 1, step)
        }
        row("AdamW step", "\(na)", 7 * Double(na * 4), ta)
        return rows
    }
}
