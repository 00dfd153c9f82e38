// `glm bench train` / `glm bench forward`: the workload recipe of bench/README.md (the same as the
// PyTorch baseline's), measured in tokens/s, GFLOP/s against the FP32 peak, and peak RSS.
import GLMEngine
import Foundation
import GLM
import GLMTraining

public struct ModelBenchmarkOptions: Sendable, Equatable {
    /// `finetune`: the SuperGLUE cloze finetuning step over random cloze samples (`FinetuneBenchmark`).
    public enum Mode: String, Sendable { case train, forward, finetune }
    public var mode: Mode
    public var layers: Int, hidden: Int, heads: Int, seqLength: Int, batchSize: Int
    public var vocab = 30592
    public var threads = 2
    public var warmup = 2
    public var steps = 6
    public var seed: UInt64 = 1234
    /// GEMM precision (`Tape.compute`): fp32, or bf16 mixed precision (bench/README.md's bf16 recipe).
    public var compute: GEMMInputType = .float32
    /// Finetune only: choices (rows) per multi-token sample, answer tokens per choice (incl. `eop`), or
    /// single-token samples (one row, `choices` verbalizer ids, the `sop` position scored).
    public var choices = 2
    public var answerLength = 4
    public var singleToken = false

    public init(mode: Mode, layers: Int, hidden: Int, heads: Int, seqLength: Int, batchSize: Int) {
        self.mode = mode; self.layers = layers; self.hidden = hidden; self.heads = heads
        self.seqLength = seqLength; self.batchSize = batchSize
    }

    public func validate() throws {
        for (n, v) in [("--layers", layers), ("--hidden", hidden), ("--heads", heads), ("--seq-length", seqLength),
                       ("--batch-size", batchSize), ("--vocab", vocab), ("--threads", threads), ("--steps", steps)] where v < 1 {
            throw TrainingError.invalidOption("\(n) must be ≥ 1, got \(v)")
        }
        guard warmup >= 0 else { throw TrainingError.invalidOption("--warmup must be ≥ 0") }
        guard compute != .int8 else { throw TrainingError.invalidOption("--dtype int8 is a decoding-weight format; train and forward take fp32 or bf16") }
        guard hidden % heads == 0 else { throw TrainingError.invalidOption("--hidden \(hidden) is not divisible by --heads \(heads)") }
        guard seqLength >= 2 else { throw TrainingError.invalidOption("--seq-length must be ≥ 2") }
        if mode == .finetune {
            guard choices >= 1, answerLength >= 1 else { throw TrainingError.invalidOption("--choices and --answer-length must be ≥ 1") }
            guard singleToken || answerLength <= seqLength - 2 else {
                throw TrainingError.invalidOption("--answer-length \(answerLength) leaves no part A in --seq-length \(seqLength)")
            }
            guard !singleToken || choices <= vocab else { throw TrainingError.invalidOption("--choices exceeds --vocab") }
        }
    }

    /// Rows of one step's forward pass: the batch, or (finetune, multi-token) one row per choice of each sample.
    public var rowsPerStep: Int { mode == .finetune && !singleToken ? batchSize * choices : batchSize }

    /// Positions per row whose output logits are computed (finetune: the picked ones only).
    var scoredPositionsPerRow: Int { mode == .finetune ? (singleToken ? 1 : answerLength) : seqLength }

    /// perf-notes' FLOP model: N_mm = 12·L·h² + V·h; per token, train 6·N_mm + 12·L·h·S, forward 2·N_mm + 4·L·h·S;
    /// finetune as train with V·h weighted by the share of positions whose logits are picked.
    public var flopsPerToken: Double {
        let l = Double(layers), h = Double(hidden), s = Double(seqLength)
        let nmm = 12 * l * h * h + Double(vocab) * h
        switch mode {
        case .train: return 6 * nmm + 12 * l * h * s
        case .forward: return 2 * nmm + 4 * l * h * s
        // Finetune: the vocabulary projection runs at the picked positions only.
        case .finetune: return 6 * (12 * l * h * h + Double(vocab) * h * Double(scoredPositionsPerRow) / s) + 12 * l * h * s
        }
    }
}

public struct ModelBenchmarkResult: Sendable {
    public var options: ModelBenchmarkOptions
    /// Milliseconds of every timed step.
    public var stepMs: [Double]
    public var peakRSSMB: Double
    public var lossFirst: Double?
    public var lossLast: Double?

    public var stepMsMedian: Double { median(stepMs) }
    public var tokensPerSecond: Double { Double(options.rowsPerStep * options.seqLength) / (stepMsMedian / 1000) }
    public var gflops: Double { options.flopsPerToken * tokensPerSecond / 1e9 }
    /// Share of the FP32 FMA peak of the threads used (perf-notes: ≈ 270 GFLOP/s per core, AVX-512).
    public var shareOfPeak: Double { gflops / (OpsBenchmark.fp32PeakPerCore * Double(options.threads)) }

    /// One JSON line in the schema of bench/compare.
    public var json: String {
        func f(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }
        let o = options
        var fields = [
            "\"impl\":\"swiftglm\"", "\"mode\":\"\(o.mode.rawValue)\"", "\"layers\":\(o.layers)", "\"hidden\":\(o.hidden)",
            "\"heads\":\(o.heads)", "\"seq\":\(o.seqLength)", "\"batch\":\(o.batchSize)", "\"vocab\":\(o.vocab)",
            "\"dtype\":\"\(o.compute.shortName)\"", "\"threads\":\(o.threads)", "\"tokens_per_s\":\(f(tokensPerSecond))",
            "\"step_ms_median\":\(f(stepMsMedian))", "\"peak_rss_mb\":\(f(peakRSSMB))", "\"gflops\":\(f(gflops))",
            "\"share_of_peak\":\(f(shareOfPeak, 3))", "\"steps\":\(o.steps)", "\"warmup\":\(o.warmup)",
            "\"step_ms_all\":[\(stepMs.map { f($0) }.joined(separator: ","))]",
        ]
        if o.mode == .finetune {
            fields += ["\"rows\":\(o.rowsPerStep)", "\"choices\":\(o.choices)", "\"answer_length\":\(o.singleToken ? 1 : o.answerLength)",
                       "\"single_token\":\(o.singleToken)"]
        }
        if let a = lossFirst, let b = lossLast { fields += ["\"loss_first\":\(f(a, 5))", "\"loss_last\":\(f(b, 5))"] }
        return "{" + fields.joined(separator: ",") + "}"
    }
}

/// Runs the recipe (`RecipeWorkload`): random GLM weights (the original's init, seed 1234), ONE batch
/// reused every step, cross-entropy over the full padded vocabulary at every position. A train step is
/// the trainer's own `TrainingStep` (zero grads, forward, loss, backward, clip at 1, AdamW with the
/// original's settings at lr 1e-4); no dropout.
public enum ModelBenchmark {
    public static func run(_ o: ModelBenchmarkOptions, progress: ((String) -> Void)? = nil) throws -> ModelBenchmarkResult {
        try o.validate()
        if o.mode == .finetune { return try FinetuneBenchmark.run(o, progress: progress) }
        Runtime.setThreads(o.threads)
        let model = try RecipeWorkload.model(layers: o.layers, hidden: o.hidden, heads: o.heads, vocab: o.vocab,
                                             seqLength: o.seqLength, seed: o.seed)
        let batch = try recipeBatch(o)
        // Only a train step needs the optimizer: its moment buffers are two more copies of the weights,
        // which would otherwise count in the forward benchmark's peak RSS.
        let step = o.mode == .train ? TrainingStep(model: model) : nil
        step?.compute = o.compute
        var times: [Double] = []
        var losses: [Double] = []
        for i in 0..<(o.warmup + o.steps) {
            let start = DispatchTime.now().uptimeNanoseconds
            if let step {
                let r = try step.run(tape: Tape(recording: true, training: false), learningRate: 1e-4) {
                    try model.blankInfillingLossFullLogits(batch, tape: $0)
                }
                losses.append(r.loss)
            } else {
                _ = try model.forward(ids: batch.ids, positionIds: batch.positionIds, mask: .sep(batch.seps), logits: .all,
                                      tape: Tape(recording: false, training: false, compute: o.compute))
            }
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            if i >= o.warmup { times.append(ms) }
            progress?(String(format: "%@ step %d/%d: %.1f ms", i < o.warmup ? "warm-up" : "timed", i + 1, o.warmup + o.steps, ms))
        }
        return ModelBenchmarkResult(options: o, stepMs: times, peakRSSMB: peakResidentMegabytes(),
                                    lossFirst: losses.first, lossLast: losses.last)
    }

    /// The recipe's batch for these options.
    public static func recipeBatch(_ o: ModelBenchmarkOptions) throws -> ModelBatch {
        try RecipeWorkload.batch(batchSize: o.batchSize, seqLength: o.seqLength, vocab: o.vocab, seed: o.seed)
    }

    /// Peak resident set size of this process (getrusage ru_maxrss: kilobytes on Linux).
    public static func peakResidentMegabytes() -> Double {
        var u = rusage()
        #if os(Linux)
        let RUSAGE_SELF_WHO = RUSAGE_SELF.rawValue
        #else
        let RUSAGE_SELF_WHO = RUSAGE_SELF
        #endif
        getrusage(RUSAGE_SELF_WHO, &u)
        #if os(macOS)
        return Double(u.ru_maxrss) / 1_048_576
        #else
        return Double(u.ru_maxrss) / 1024
        #endif
    }
}
