// `glm bench profile`: where the time of one training step goes (GEMM vs attention vs elementwise vs
// optimizer vs overhead), so the next performance step can aim.
import Foundation
import GLMEngine
import GLMTraining

/// The workload and the measurement of a training-step profile.
public struct TrainingProfileOptions: Sendable, Equatable {
    public var layers = 12, hidden = 768, heads = 12, seqLength = 512, batchSize = 2, vocab = 30592
    public var threads = 2
    /// Profiled steps (as many plain steps are interleaved) and untimed warm-up steps.
    public var steps = 3, warmup = 1
    /// Gradient clipping max norm (0: no clipping; the norm is still computed).
    public var clip: Float = 1
    /// How many individual ops the report lists.
    public var top = 10
    public var seed: UInt64 = 1234
    /// GEMM precision of the profiled step (`TrainingStep.compute`).
    public var compute: GEMMInputType = .float32
    /// Recompute each layer in backward (`--checkpoint-activations`).
    public var checkpointActivations = false
    /// Vocabulary logits only at the loss positions, as the trainer computes them, instead of at every
    /// position as the recipe (and the PyTorch baseline) does.
    public var lossRowsOnly = false

    public init() {}

    public func validate() throws {
        for (n, v) in [("--layers", layers), ("--hidden", hidden), ("--heads", heads), ("--batch-size", batchSize),
                       ("--vocab", vocab), ("--threads", threads), ("--steps", steps), ("--top", top)] where v < 1 {
            throw TrainingError.invalidOption("\(n) must be ≥ 1, got \(v)")
        }
        guard seqLength >= 2 else { throw TrainingError.invalidOption("--seq-length must be ≥ 2") }
        guard warmup >= 0 else { throw TrainingError.invalidOption("--warmup must be ≥ 0") }
        guard hidden % heads == 0 else { throw TrainingError.invalidOption("--hidden \(hidden) is not divisible by --heads \(heads)") }
        guard clip >= 0 else { throw TrainingError.invalidOption("--clip must be ≥ 0") }
    }

    /// perf-notes' FLOP model per training token: 6·N_mm + 12·L·h·S with N_mm = 12·L·h² + V·h.
    public var flopsPerToken: Double {
        let l = Double(layers), h = Double(hidden), s = Double(seqLength)
        return 6 * (12 * l * h * h + Double(vocab) * h) + 12 * l * h * s
    }

    /// The workload in one line ("L12 H768 A12 S512 B2 V30592, fp32").
    public var header: String {
        "L\(layers) H\(hidden) A\(heads) S\(seqLength) B\(batchSize) V\(vocab), \(compute.shortName)" + (checkpointActivations ? ", recompute" : "")
            + (lossRowsOnly ? ", logits at loss rows" : "")
    }
}

/// Runs the recipe's training step (`RecipeWorkload`, `TrainingStep`: the trainer's own step) with the
/// tape's and the step's profiler. Timed steps alternate between a plain step and a profiled one, so
/// the profiler's own cost is visible (the two medians) rather than assumed.
public enum TrainingProfile {
    public static func run(_ o: TrainingProfileOptions, progress: ((String) -> Void)? = nil) throws -> ProfileReport {
        try o.validate()
        Runtime.setThreads(o.threads)
        let model = try RecipeWorkload.model(layers: o.layers, hidden: o.hidden, heads: o.heads, vocab: o.vocab,
                                             seqLength: o.seqLength, checkpointActivations: o.checkpointActivations, seed: o.seed)
        let batch = try RecipeWorkload.batch(batchSize: o.batchSize, seqLength: o.seqLength, vocab: o.vocab, seed: o.seed)
        var settings = OptimizerSpec()
        settings.clipGrad = Double(o.clip)
        let step = TrainingStep(model: model, settings: settings)
        step.compute = o.compute

        /// One step; its wall time in milliseconds. With a profiler, every op and phase is filed there.
        func timedStep(_ profiler: Profiler?) throws -> Double {
            let start = Profiler.now()
            step.profiler = profiler
            let tape = Tape(recording: true, training: false)
            tape.profiler = profiler
            try step.run(tape: tape, learningRate: 1e-4) { tape in
                if o.lossRowsOnly { return try model.blankInfillingLoss(batch, tape: tape) }
                return try model.blankInfillingLossFullLogits(batch, tape: tape)
            }
            return Double(Profiler.now() - start) / 1e6
        }

        for i in 0..<o.warmup {
            let ms = try timedStep(nil)
            progress?(String(format: "warm-up %d/%d: %.1f ms", i + 1, o.warmup, ms))
        }
        let profiler = Profiler()
        var plain: [Double] = [], profiled: [Double] = []
        for i in 0..<o.steps {
            plain.append(try timedStep(nil))
            profiled.append(try timedStep(profiler))
            progress?(String(format: "step %d/%d: plain %.1f ms, profiled %.1f ms", i + 1, o.steps, plain[i], profiled[i]))
        }
        let summary = profiler.summary(wallNanoseconds: UInt64(profiled.reduce(0, +) * 1e6), steps: o.steps)
        return ProfileReport(summary: summary, plainMedianMs: median(plain), profiledMedianMs: median(profiled),
                             tokensPerStep: o.batchSize * o.seqLength, flopsPerToken: o.flopsPerToken, top: o.top)
    }
}
