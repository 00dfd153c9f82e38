import CGLMKernels
import Foundation
import GLMEngine
import GLM
import GLMGeneration

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The decode workload of bench/README.md ("Decode"), on the K/V-cache path the generator uses:
/// a random-weight GLM, a prompt of P uniform ids (positions 0…P−1, block 0, all visible) — the prefill —
/// then N steps, step k feeding one token per row at position (P − 1, k): `sop` first, then the previous
/// step's argmax over the full vocabulary. Batch B decodes B independent rows together.
public struct DecodeBenchmark {
    public struct Config: Sendable {
        public var layers = 12, hidden = 768, heads = 12, vocab = 30592
        public var promptLength = 128, newTokens = 128, batch = 1
        public var storage: GEMMInputType = .float32
        /// Element type of the K/V cache (nil: what `storage` implies, `GLMKVCache.storage(forWeights:)`).
        public var kvCache: DType? = nil
        public var warmup = 1, timedRuns = 3
        public var seed: UInt64 = 1234
        /// After the timed runs, one more generation with a `Profiler` on the decode steps (`Result.profile`).
        public var profile = false

        public init() {}

        public var dtypeName: String { storage.shortName }

        /// Matrix-multiply parameters (perf-notes' N_mm = 12·L·h² + V·h).
        public var matmulParameters: Double { 12 * Double(layers) * Double(hidden * hidden) + Double(vocab * hidden) }

        /// Bytes of weights one decoding step reads: the layer matrices in `storage`, the tied output
        /// projection likewise except under int8, which keeps it bf16 (`Parameter.quantizesToInt8`); int8's
        /// per-row scales (0.1–0.5 %) are not counted.
        public var weightBytesPerStep: Double {
            let layers = 12 * Double(layers) * Double(hidden * hidden), projection = Double(vocab * hidden)
            let projectionBytes = storage == .int8 ? 2 : Double(storage.bytesPerWeight)
            return layers * Double(storage.bytesPerWeight) + projection * projectionBytes
        }

        /// FLOPs of one decoded token at context length `ctx`: 2·N_mm + 4·L·h·ctx.
        public func flopsPerToken(context ctx: Double) -> Double { 2 * matmulParameters + 4 * Double(layers * hidden) * ctx }
    }

    public struct Result: Sendable {
        public var config: Config
        /// Prompt tokens (all rows) per second of the prefill (median run).
        public var prefillTokensPerSecond: Double
        public var prefillMsMedian: Double
        /// Median over the timed runs of (decode time ÷ N): the time of one step (B new tokens).
        public var stepMsMedian: Double
        /// New tokens (all rows) per second: B ÷ step time.
        public var decodeTokensPerSecond: Double
        /// Bytes of the packed weights every step reads once (whatever the batch).
        public var weightBytesPerStep: Double
        public var gflops: Double
        public var peakRSSMB: Double
        /// The ids of row 0 of the last run (a cheap determinism check).
        public var lastTokens: [Int]
        /// Per-op time of the decode steps of one extra, profiled generation (`Config.profile`); one
        /// "step" of the summary is one decoding step.
        public var profile: ProfileSummary? = nil

        /// B × bandwidth ÷ weight bytes per step: the memory-bound ceiling of `decodeTokensPerSecond`.
        public func bandwidthBound(gigabytesPerSecond bw: Double) -> Double {
            Double(config.batch) * bw * 1e9 / weightBytesPerStep
        }
    }

    public let config: Config
    let model: GLMModel

    /// Builds the random model (GLM's init) and packs its weights.
    public init(_ config: Config) throws {
        guard config.layers > 0, config.hidden > 0, config.heads > 0, config.hidden % config.heads == 0, config.vocab > 0,
              config.promptLength > 0, config.newTokens > 0, config.batch > 0, config.timedRuns > 0, config.warmup >= 0 else {
            throw GenerationError.invalidOptions("bench decode: sizes must be positive and hidden divisible by heads")
        }
        self.config = config
        let c = GLMConfig(numLayers: config.layers, hiddenSize: config.hidden, numAttentionHeads: config.heads,
                          vocabSize: config.vocab, maxSequenceLength: config.promptLength + config.newTokens)
        model = try GLMModel.random(config: c, seed: config.seed)
        try model.prepackWeights(for: .inference(packedWeights: config.storage))
    }

    public func run() throws -> Result {
        var prefill: [Double] = [], steps: [Double] = []
        var last: [Int] = []
        for run in 0..<(config.warmup + config.timedRuns) {
            let (p, d, tokens) = try generation(seed: config.seed &+ UInt64(run))
            if run >= config.warmup { prefill.append(p); steps.append(d / Double(config.newTokens)) }
            last = tokens
        }
        var profile: ProfileSummary? = nil
        if config.profile {
            let profiler = Profiler()
            let (_, seconds, _) = try generation(seed: config.seed, profiler: profiler)
            profile = profiler.summary(wallNanoseconds: UInt64(seconds * 1e9), steps: config.newTokens)
        }
        let stepMs = upperMedian(steps) * 1e3, prefillMs = upperMedian(prefill) * 1e3
        let weightBytes = config.weightBytesPerStep
        let decodeRate = Double(config.batch) / (stepMs / 1e3)
        let meanContext = Double(config.promptLength) + Double(config.newTokens + 1) / 2
        return Result(config: config, prefillTokensPerSecond: Double(config.batch * config.promptLength) / (prefillMs / 1e3),
                      prefillMsMedian: prefillMs, stepMsMedian: stepMs, decodeTokensPerSecond: decodeRate,
                      weightBytesPerStep: weightBytes, gflops: config.flopsPerToken(context: meanContext) * decodeRate / 1e9,
                      peakRSSMB: ModelBenchmark.peakResidentMegabytes(), lastTokens: last, profile: profile)
    }

    /// One generation: (prefill seconds, decode seconds, row 0's generated ids); `profiler` times the decode
    /// steps' ops (the prefill and the argmax stay outside it, as outside the step time's ops).
    func generation(seed: UInt64, profiler: Profiler? = nil) throws -> (Double, Double, [Int]) {
        let b = config.batch, p = config.promptLength, n = config.newTokens, v = config.vocab
        var g = SeededGenerator(seed: seed)
        let cache = GLMKVCache(model: model, batch: b, capacity: p + n, storage: config.kvCache ?? GLMKVCache.storage(forWeights: config.storage))
        let tape = Tape.inference(packedWeights: config.storage)
        let prompt = (0..<(b * p)).map { _ in Int32(truncatingIfNeeded: g.next() % UInt64(v)) }
        var pos: [Int32] = []
        for _ in 0..<b { pos += (0..<p).map { Int32($0) } + Array(repeating: 0, count: p) }
        let ids = try Tensor(shape: [b, p], ints: prompt), positions = try Tensor(shape: [b, 2, p], ints: pos)
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try model.forward(ids: ids, positionIds: positions, mask: .sep([p]), cache: cache, logits: .none, tape: tape)
        tape.profiler = profiler
        let t1 = DispatchTime.now().uptimeNanoseconds
        var next = [Int](repeating: min(30522, v - 1), count: b)
        var generated: [Int] = []
        for k in 1...n {
            let stepIds = try Tensor(shape: [b, 1], ints: next.map { Int32($0) })
            var sp: [Int32] = []
            for _ in 0..<b { sp += [Int32(p - 1), Int32(k)] }
            let out = try model.forward(ids: stepIds, positionIds: try Tensor(shape: [b, 2, 1], ints: sp), mask: .sep([0]),
                                        cache: cache, logits: .last, tape: tape)
            let logits = out.logits!.value
            for r in 0..<b { next[r] = LogitsProcessing.argmax(logits.floats + r * v, count: v) }
            generated.append(next[0])
        }
        let t2 = DispatchTime.now().uptimeNanoseconds
        return (Double(t1 - t0) * 1e-9, Double(t2 - t1) * 1e-9, generated)
    }

    /// The upper median (the middle value, or the higher of the two middle ones), as this benchmark has always reported.
    func upperMedian(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// Read bandwidth in GB/s: a 256 MB buffer read once by the kernel threads (`glmk_read_probe`, best of 5).
    /// A decoding step reads its weights and writes almost nothing, so this, not the copy rate (which counts
    /// the bytes written too), is what bounds it on a machine whose reads alone do not reach the copy rate.
    public static func measureReadBandwidth() -> Double {
        let words = (256 << 20) / 8
        let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        defer { buffer.deallocate() }
        for i in 0..<words { buffer[i] = UInt64(truncatingIfNeeded: i) }
        var best = Double.infinity, sink: UInt64 = 0
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            sink ^= glmk_read_probe(buffer, words)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        precondition(sink != 1, "read probe")  // keeps the reads observable
        return Double(words * 8) / best / 1e9
    }

    /// Memory bandwidth in GB/s from copying a 256 MB buffer (bytes read + written; best of 3): the
    /// denominator of the bandwidth bound.
    public static func measureBandwidth() -> Double {
        let bytes = 256 << 20
        let src = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        let dst = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { src.deallocate(); dst.deallocate() }
        memset(src, 1, bytes); memset(dst, 0, bytes)
        var best = Double.infinity
        for _ in 0..<3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            memcpy(dst, src, bytes)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        return 2 * Double(bytes) / best / 1e9
    }
}
