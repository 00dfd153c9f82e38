// The training loop of `pretrain_glm.py` (train / train_step / evaluate) for one process.
import GLMEngine
import Foundation
import GLM

/// What one optimizer step did.
public struct StepResult: Sendable, Equatable {
    /// 1-based number of the step just taken.
    public let step: Int
    /// Σ ce·mask / Σ mask over all micro-batches of the step.
    public let loss: Double
    public let learningRate: Double
    /// Global gradient L2 norm before clipping.
    public let gradNorm: Double
    /// Tokens of the unpadded rows, and loss-bearing positions, of all micro-batches.
    public let tokens: Int
    public let lossTokens: Int
    public let seconds: Double
    /// No update was made: a non-finite loss or gradient (the original skips such steps too), or no
    /// loss-bearing position in any micro-batch.
    public let skipped: Bool
}

/// One training process: the model, AdamW, the schedule and the batches, stepping deterministically.
///
/// Determinism: the data of step `k` are micro-batches `(k−1)·accum ..< k·accum` (pure functions of the
/// spec), the dropout stream of micro-batch `j` of step `k` is seeded from `(seed, k, j)`, every kernel
/// and reduction is thread-count independent, and the checkpoint holds weights, moments and the step
/// exactly (float32). So a run resumed from any checkpoint reproduces the uninterrupted run bit for bit.
///
/// Gradient accumulation weighs micro-batch `j` by its share of the step's loss tokens (backward seed
/// `n_j / Σ n`), so the accumulated gradient is exactly that of ONE batch made of all micro-batches.
/// (The original divides each micro-batch mean by the accumulation count instead, which equals this only
/// when every micro-batch has the same number of loss tokens.)
public final class Trainer {
    public let spec: TrainingSpec
    public let model: GLMModel
    /// The step function (zero, forward/backward, clip, AdamW) shared with the benchmarks.
    public let stepper: TrainingStep
    public var optimizer: AdamW { stepper.optimizer }
    public let batches: TrainingBatches
    public let backend: any GEMMBackend
    /// Optimizer steps completed; the next step is `step + 1`.
    public internal(set) var step: Int
    /// Data-parallel training (nil: this process trains alone). `spec.batchSize` is then the GLOBAL
    /// batch; this rank trains on its `spec.batchSize / size` rows of it (see `DataParallel`).
    public let dataParallel: DataParallel?
    /// ZeRO-1: this rank's share of AdamW. The stepper's own AdamW then holds no parameters (and no moments).
    public let shardedOptimizer: ShardedAdamW?

    /// - dataParallel: the process group to train with; with `zeroStage == 1` the optimizer is sharded.
    public init(spec: TrainingSpec, model: GLMModel, batches: TrainingBatches, step: Int = 0,
                backend: any GEMMBackend = OneDNNBackend.shared, dataParallel: DataParallel? = nil) throws {
        try spec.validate()
        guard model.config == spec.model else {
            throw TrainingError.invalidOption("the model's configuration differs from the run's")
        }
        self.spec = spec
        self.model = model
        self.batches = batches
        self.step = step
        self.backend = backend
        self.dataParallel = dataParallel
        if let dp = dataParallel {
            guard spec.batchSize % dp.size == 0 else {
                throw TrainingError.invalidOption("the global batch (\(spec.batchSize) rows) does not split evenly over \(dp.size) data-parallel ranks")
            }
        }
        if let dp = dataParallel, dp.zeroStage == 1 {
            let o = spec.optimizer
            let total = model.parameters.reduce(0) { $0 + $1.value.count }
            shardedOptimizer = ShardedAdamW(parameters: model.parameters, range: dp.shard(total: total), beta1: Float(o.beta1),
                                            beta2: Float(o.beta2), eps: Float(o.eps), weightDecay: Float(o.weightDecay))
            stepper = TrainingStep(model: model, settings: spec.optimizer, learningRate: spec.schedule.peak, parameters: [])
        } else {
            shardedOptimizer = nil
            stepper = TrainingStep(model: model, settings: spec.optimizer, learningRate: spec.schedule.peak)
        }
    }

    /// AdamW's step counter (bias correction), sharded or not.
    public var optimizerStep: Int64 { shardedOptimizer?.step ?? optimizer.step }

    /// Micro-batches consumed so far (the data position).
    public var microBatchesConsumed: Int { step * spec.gradientAccumulation }

    /// Seed of the dropout stream of micro-batch `micro` of step `step` (1-based step).
    public static func dropoutSeed(runSeed: UInt64, step: Int, micro: Int) -> UInt64 {
        var a = SplitMix64(seed: runSeed ^ 0x4452_4F50_4F55_5400)   // "DROPOUT"
        var b = SplitMix64(seed: a.next() ^ UInt64(step))
        var c = SplitMix64(seed: b.next() ^ UInt64(micro))
        return c.next()
    }

    /// The learning rate of the next step.
    public var nextLearningRate: Double { spec.schedule.rate(forStep: step + 1) }

    /// The micro-batches of step `k` (1-based): training batches `(k−1)·accum ..< k·accum`.
    public func blockBatches(step k: Int) throws -> [BlockBatch] {
        let accum = spec.gradientAccumulation
        return try (0..<accum).map { try batches.train.batch((k - 1) * accum + $0, size: batches.batchSize) }
    }

    /// Takes one optimizer step: zero gradients; per micro-batch forward, loss, backward (seeded with its
    /// token share); clip; AdamW with the scheduled rate.
    @discardableResult
    public func trainStep() throws -> StepResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let k = step + 1
        if let dp = dataParallel { return try dataParallelStep(k, dp, start: start) }
        let micro = try blockBatches(step: k).filter { $0.batchSize > 0 && $0.lossTokenCount > 0 }.map(ModelBatch.init)
        let tokens = micro.reduce(0) { $0 + $1.tokens }
        let total = micro.reduce(0) { $0 + $1.lossTokens }
        let lr = spec.schedule.rate(forStep: k)
        stepper.zeroGradients()
        let (lossSum, lossFinite) = try accumulateGradients(micro, step: k)
        var finite = lossFinite
        var norm = Double.nan
        if finite {
            norm = try stepper.updateModel(learningRate: lr)
            finite = norm.isFinite
        }
        step = k
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return StepResult(step: k, loss: finite ? lossSum : .nan, learningRate: lr, gradNorm: norm, tokens: tokens,
                          lossTokens: total, seconds: seconds, skipped: !finite)
    }

    /// Adds the gradient of Σ ce·mask / Σ mask over ALL of `micro` to the parameters' gradients (one
    /// forward/backward per micro-batch, each seeded with its share of the loss tokens) and returns that
    /// loss. `finite` is false (and accumulation stops) at the first non-finite micro-batch loss, or when
    /// there is no loss token at all. `step` (1-based) selects the dropout streams.
    public func accumulateGradients(_ micro: [ModelBatch], step k: Int) throws -> (loss: Double, finite: Bool) {
        let total = micro.reduce(0) { $0 + $1.lossTokens }
        guard total > 0 else { return (.nan, false) }
        var lossSum = 0.0
        for (j, batch) in micro.enumerated() {
            let tape = Tape(recording: true, training: true, backend: backend,
                            dropoutSeed: Self.dropoutSeed(runSeed: spec.seed, step: k, micro: j))
            let share = Double(batch.lossTokens) / Double(total)
            guard let value = try stepper.accumulate(on: tape, seed: Float(share), loss: { try model.blankInfillingLoss(batch, tape: $0) })
            else { return (.nan, false) }
            lossSum += Double(value) * share
        }
        return (lossSum, true)
    }

    /// Validation loss over the first `iterations` validation batches (Σ ce·mask / Σ mask over all of
    /// them), dropout off; nil when the run has no validation data.
    public func validationLoss(iterations: Int) throws -> Double? {
        guard let valid = batches.valid, iterations > 0 else { return nil }
        var sum = 0.0, count = 0
        for i in 0..<iterations {
            let block = try valid.batch(i, size: batches.batchSize)
            guard block.batchSize > 0, block.lossTokenCount > 0 else { continue }
            let batch = try ModelBatch(block)
            let ce = try model.blankInfillingLoss(batch, tape: Tape(recording: false, training: false, backend: backend))
            sum += Double(ce.loss.value.scalarValue) * ce.maskSum
            count += Int(ce.maskSum)
        }
        return count > 0 ? sum / Double(count) : nil
    }

    /// Puts the optimizer state and the step back (resuming a checkpoint; the weights are in `model`).
    public func restore(step: Int, optimizerStep: Int64, expAvg: [Tensor], expAvgSq: [Tensor]) throws {
        if let shardedOptimizer {
            try shardedOptimizer.restore(step: optimizerStep, expAvg: expAvg, expAvgSq: expAvgSq)
        } else {
            try optimizer.restore(step: optimizerStep, expAvg: expAvg, expAvgSq: expAvgSq)
        }
        self.step = step
    }
}
