// SuperGLUE fine-tuning as the original's finetune_glm.py + tasks/superglue/finetune.py run it with
// --cloze-eval: epochs over the shuffled train split, the cloze loss of the task's model, AdamW with a
// warm-up + decay schedule, dev evaluation after every epoch, and the best epoch's weights kept.
import Foundation
import GLM
import GLMCheckpoint
import GLMEngine
import GLMTraining

/// The knobs of a fine-tuning run (the original's flags; defaults: `config_tasks/task_*.sh` with
/// `scripts/finetune_superglue.sh`, see `defaults(for:tenB:)`).
public struct FinetuneOptions: Sendable, Equatable {
    /// `--epochs`; 0 = evaluate the dev split only.
    public var epochs: Int
    /// `--batch-size`: samples per micro-batch (one forward/backward).
    public var batchSize: Int
    /// `--gradient-accumulation-steps`: micro-batches per optimizer step (a step sees batchSize·gradAccum samples).
    public var gradientAccumulation: Int = 1
    /// `--lr`: the peak learning rate.
    public var learningRate: Double = 1e-5
    /// `--warmup`: fraction of all training steps spent warming up.
    public var warmup: Double = 0.1
    /// `--weight-decay` (not on biases and LayerNorm weights, as the original's parameter groups).
    public var weightDecay: Double = 0.1
    /// `--lr-decay-style` (the task scripts: linear).
    public var decayStyle: LearningRateSchedule.Style = .linear
    /// `--lr-decay-ratio` (the original's default 0.1).
    public var decayRatio: Double = 0.1
    /// `--clip-grad` (0 = off).
    public var clipGrad: Double = 1.0
    /// Seed of the train-order shuffle (per epoch) and of the dropout streams.
    public var seed: UInt64 = 1234
    /// The loss; nil = the task settings' `lossFunc` (WSC: mix, others: cross_entropy).
    public var lossFunction: ChoiceLossFunction?
    /// Dropout as the model's config during training (false: training without dropout).
    public var dropout: Bool = true
    /// `--eval-batch-size` of the dev evaluation (the original's multichoice grouping; scores do not depend on it).
    public var evalBatchSize: Int = 16
    /// `--eval-epochs`: dev is evaluated (and the best epoch chosen) after every `evalEpochs`-th epoch and
    /// after the last one; the epochs between report no metrics and cannot become the best. The original's
    /// `--eval-interval` counts iterations; epochs are what these runs keep, so the cadence counts epochs.
    public var evalEpochs: Int = 1
    /// `--continuous-prompt` (P-tuning; every task but ReCoRD): the datasets must be encoded with the same prompt settings
    /// (`SuperGLUESettings.continuousPrompt`, `numPromptTokens`, `prefixPrompt`); a `PromptEncoder` of
    /// `promptFunc` is trained with the model.
    public var continuousPrompt = false
    /// `--num-prompt-tokens`.
    public var numPromptTokens = 0
    /// `--prefix-prompt`.
    public var prefixPrompt = 0
    /// `--prompt-func` (the original's default: lstm).
    public var promptFunc: PromptFunction = .lstm
    /// `--freeze-transformer`: every model parameter (word embeddings included, as the original's
    /// `freeze_transformer`) is frozen: no gradient buffers, no AdamW update; only the prompt encoder trains.
    public var freezeTransformer = false

    /// Prompt tokens per row (the original's `spell_length`); 0 = no prompt encoder.
    public var promptLength: Int { (continuousPrompt ? numPromptTokens : 0) + prefixPrompt }

    public init(epochs: Int, batchSize: Int = 16) {
        self.epochs = epochs
        self.batchSize = batchSize
    }

    /// `EPOCH_SINGLE` (GLM-Large) or `XXLARGE_EPOCH` (GLM-10B) and `BATCH_SIZE` of `config_tasks/task_<task>.sh`;
    /// lr 1e-5, warm-up 0.1, weight decay 0.1, linear decay for every task.
    public static func defaults(for task: SuperGLUETask, tenB: Bool = false) -> FinetuneOptions {
        let epochs: (large: Int, tenB: Int)
        switch task {
        case .copa, .cb, .wsc: epochs = (50, 100)
        case .rte: epochs = (50, 50)
        case .wic: epochs = (30, 40)
        case .multirc: epochs = (15, 12)
        case .boolq: epochs = (20, 24)
        case .record: epochs = (5, 3)
        }
        let batch = task == .multirc || task == .record ? 64 : 16
        return FinetuneOptions(epochs: tenB ? epochs.tenB : epochs.large, batchSize: batch)
    }

    /// Whether dev is evaluated after `epoch` (1-based): every `evalEpochs`-th epoch and the last.
    public func evaluatesDev(after epoch: Int) -> Bool { epoch % evalEpochs == 0 || epoch >= epochs }

    public func validate() throws {
        func bad(_ m: String) -> SuperGLUEError { .configuration(m) }
        guard epochs >= 0 else { throw bad("epochs must be ≥ 0, got \(epochs)") }
        guard batchSize >= 1 else { throw bad("batch size must be ≥ 1, got \(batchSize)") }
        guard gradientAccumulation >= 1 else { throw bad("gradient accumulation must be ≥ 1, got \(gradientAccumulation)") }
        guard learningRate.isFinite, learningRate >= 0 else { throw bad("learning rate must be finite and ≥ 0, got \(learningRate)") }
        guard (0...1).contains(warmup) else { throw bad("warmup is a fraction in [0, 1], got \(warmup)") }
        guard weightDecay.isFinite, weightDecay >= 0 else { throw bad("weight decay must be ≥ 0, got \(weightDecay)") }
        guard decayRatio > 0, decayRatio <= 1 else { throw bad("lr decay ratio must be in (0, 1], got \(decayRatio)") }
        guard clipGrad.isFinite, clipGrad >= 0 else { throw bad("clip-grad must be ≥ 0, got \(clipGrad)") }
        guard evalBatchSize >= 1 else { throw bad("eval batch size must be ≥ 1, got \(evalBatchSize)") }
        guard evalEpochs >= 1 else { throw bad("eval epochs must be ≥ 1, got \(evalEpochs)") }
        guard numPromptTokens >= 0, prefixPrompt >= 0 else { throw bad("prompt token counts must be ≥ 0") }
        guard !freezeTransformer || promptLength > 0 else {
            throw bad("--freeze-transformer trains only the prompt encoder: it needs --continuous-prompt --num-prompt-tokens N > 0 (or --prefix-prompt)")
        }
    }
}

/// One optimizer step of a fine-tuning run.
public struct FinetuneStepReport: Sendable, Equatable {
    /// 1-based global step and its 1-based epoch.
    public var step: Int
    public var epoch: Int
    public var totalSteps: Int
    /// Mean loss over the step's samples (NaN when not finite: the step was skipped).
    public var loss: Double
    public var learningRate: Double
    /// Global gradient norm before clipping.
    public var gradNorm: Double
    public var samples: Int
    public var seconds: Double
    public var skipped: Bool
}

/// One finished epoch: its mean training loss and the dev metrics after it.
public struct FinetuneEpochReport: Sendable {
    /// 1-based; 0 = the evaluation of an `epochs 0` run.
    public var epoch: Int
    /// Mean of the epoch's finite step losses (NaN for epoch 0).
    public var trainLoss: Double
    public var metrics: [(name: String, value: Double)]
    /// Whether this epoch became the best so far (its weights are kept).
    public var isBest: Bool
    public var seconds: Double
}

public enum FinetuneEvent: Sendable {
    case step(FinetuneStepReport)
    case epoch(FinetuneEpochReport)
}

/// What a run ended with; the model then holds the best epoch's weights.
public struct FinetuneResult: Sendable {
    public var task: SuperGLUETask
    /// The kept epoch (1-based; 0 with `epochs 0`: the weights given).
    public var bestEpoch: Int
    /// Its dev metrics (the original's order; the first is the one epochs are compared by).
    public var metrics: [(name: String, value: Double)]
    public var epochs: [FinetuneEpochReport]
    /// Every step's loss, in order.
    public var stepLosses: [Double]
    /// Set when `run`'s `stop` ended the run early, after this step, its checkpoint written: the model then
    /// holds that step's weights (not the best epoch's), and the checkpoint continues the run with `resume`.
    public var stoppedAfterStep: Int? = nil
}

/// Fine-tunes a GLM on a SuperGLUE task as `finetune_glm.py` does with `--cloze-eval`:
///
/// * each epoch visits the train samples in a fresh seeded order (a pure function of `(seed, epoch)`), in
///   steps of `batchSize · gradientAccumulation` samples (the last one may be smaller, as `drop_last=False`);
/// * a step is `TrainingStep`'s: zero gradients, per micro-batch `ClozeScorer.trainingLoss` on a recording
///   tape and backward seeded with the micro-batch's share of the step's samples (so N micro-batches of
///   B/N equal one batch of B), clipping, AdamW (betas 0.9/0.98, eps 1e-6, no decay on biases/LayerNorm)
///   at the rate of `LearningRateSchedule` over `epochs · stepsPerEpoch` steps;
/// * after every `evalEpochs`-th epoch and the last, the dev split is evaluated (`SuperGLUEEvaluator`); an epoch whose first metric is
///   strictly above the best so far (or the first epoch) becomes the best, and its weights are copied;
/// * at the end the best weights are put back into the model.
///
/// Dropout streams are seeded per (seed, step, micro-batch), so a run is deterministic.
public final class SuperGLUEFinetuner {
    public let model: GLMModel
    public let train: SuperGLUEDataset
    public let dev: SuperGLUEDataset
    public let options: FinetuneOptions
    /// Forward/backward of the steps (set `stepper.compute` for bf16); the update is `updater`'s.
    public var stepper: TrainingStep { updater.stepper }
    /// The optimizer side of a step: one process, data parallel, ZeRO-1.
    let updater: FinetuneUpdater
    public let schedule: LearningRateSchedule
    private let scorer: ClozeScorer
    private let lossFunction: ChoiceLossFunction
    /// The continuous prompts trained with (or instead of) the model; nil without prompt tokens.
    public let promptEncoder: PromptEncoder?
    /// The parameters the steps update (and whose best-epoch values are kept).
    var trainedParameters: [Parameter] { updater.parameters }
    /// Data parallelism (`mpirun -np N glm finetune`), nil in one process. Then `options.batchSize` is per
    /// rank: a step's micro-batch is N·batchSize samples of which rank r trains rows r·b ..< r·b+b, and the
    /// numbers are those of one process with batch N·b (see `trainStep`). Only rank 0 evaluates dev and
    /// writes the checkpoint; its choice of the best epoch is sent to the others. With `zeroStage == 1` each
    /// rank keeps only its share of the AdamW moments (`FinetuneUpdater`).
    public let dataParallel: DataParallel?
    /// Whether this process reports, evaluates and writes (rank 0, or the only process).
    public var isRoot: Bool { (dataParallel?.rank ?? 0) == 0 }
    /// Samples per micro-batch of the whole job (`batchSize` × ranks).
    var globalBatchSize: Int { options.batchSize * (dataParallel?.size ?? 1) }

    public init(model: GLMModel, train: SuperGLUEDataset, dev: SuperGLUEDataset, options: FinetuneOptions,
                dataParallel: DataParallel? = nil) throws {
        try options.validate()
        self.dataParallel = dataParallel
        guard train.settings.task == dev.settings.task else {
            throw SuperGLUEError.configuration("train split of \(train.settings.task.rawValue), dev split of \(dev.settings.task.rawValue)")
        }
        guard train.split == .train else { throw SuperGLUEError.configuration("the training dataset must be the train split") }
        guard options.epochs == 0 || !train.samples.isEmpty else { throw SuperGLUEError.configuration("the train split has no samples") }
        let name = options.lossFunction?.rawValue ?? train.settings.lossFunc
        guard let loss = options.lossFunction ?? ChoiceLossFunction(rawValue: name) else {
            throw SuperGLUEError.configuration("unknown loss function \"\(name)\"")
        }
        self.model = model
        self.train = train
        self.dev = dev
        self.options = options
        lossFunction = loss
        for d in [train, dev] where d.settings.promptLength != options.promptLength
            || d.settings.continuousPrompt != options.continuousPrompt || d.settings.prefixPrompt != options.prefixPrompt {
            throw SuperGLUEError.configuration("the \(d.split) split was encoded with \(d.settings.promptLength) prompt tokens, the options ask for \(options.promptLength)")
        }
        promptEncoder = options.promptLength > 0
            ? try PromptEncoder(function: options.promptFunc, length: options.promptLength, hiddenSize: model.config.hiddenSize,
                                seed: options.seed) : nil
        if options.freezeTransformer { for p in model.parameters { p.isFrozen = true } }
        var spec = OptimizerSpec()
        spec.weightDecay = options.weightDecay
        spec.clipGrad = options.clipGrad
        let trained = (options.freezeTransformer ? [] : model.parameters) + (promptEncoder?.parameters ?? [])
        updater = FinetuneUpdater(model: model, parameters: trained, spec: spec, learningRate: options.learningRate,
                                  dataParallel: dataParallel)
        scorer = try ClozeScorer(model: model, lengthPenalty: train.settings.lengthPenalty)
        scorer.promptEncoder = promptEncoder
        schedule = LearningRateSchedule(peak: options.learningRate, warmup: options.warmup,
                                        decayIterations: max(1, options.epochs * Self.stepsPerEpoch(samples: train.samples.count, options: options,
                                                                                                     ranks: dataParallel?.size ?? 1)),
                                        style: options.decayStyle, decayRatio: options.decayRatio)
    }

    /// Samples per optimizer step (of all ranks together).
    public var samplesPerStep: Int { globalBatchSize * options.gradientAccumulation }

    /// Steps per epoch; `ranks`: data-parallel processes, each with `options.batchSize` samples per micro-batch.
    public static func stepsPerEpoch(samples: Int, options: FinetuneOptions, ranks: Int = 1) -> Int {
        let per = options.batchSize * ranks * options.gradientAccumulation
        return (samples + per - 1) / per
    }

    public var stepsPerEpoch: Int { Self.stepsPerEpoch(samples: train.samples.count, options: options, ranks: dataParallel?.size ?? 1) }
    public var totalSteps: Int { options.epochs * stepsPerEpoch }

    /// The train-sample order of `epoch` (1-based): a Fisher–Yates shuffle seeded by `(seed, epoch)`.
    public static func order(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var a = SplitMix64(seed: seed ^ 0x5348_5546_464C_4500)   // "SHUFFLE"
        var rng = SplitMix64(seed: a.next() ^ UInt64(epoch))
        var order = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        return order
    }

    /// What a checkpoint must match to be resumed by this run: the task's data and every option that
    /// changes the numbers.
    public var runIdentity: String {
        let t = train.settings
        var o = options
        o.evalBatchSize = 16   // the evaluation grouping does not change the numbers
        o.batchSize = globalBatchSize   // nor how the global batch is split over ranks: resumable on any count
        return "\(t.task.rawValue) pattern \(t.patternId) seq \(t.seqLength) train \(train.samples.count) dev \(dev.samples.count) \(o)"
    }

    /// The epoch and step a checkpoint folder was saved at, or nil when it holds none.
    public static func checkpointPosition(_ folder: String) throws -> (epoch: Int, step: Int)? {
        guard FinetuneCheckpoint.exists(folder) else { return nil }
        let state = try JSONDecoder().decode(FinetuneCheckpoint.State.self,
                                             from: Data(contentsOf: URL(fileURLWithPath: folder + "/" + FinetuneCheckpoint.stateFile)))
        return (state.epoch, state.step)
    }

    /// Trains `options.epochs` epochs (or only evaluates with 0), reporting through `report`; the model
    /// ends with the best epoch's weights.
    ///
    /// With `checkpoint`, the run's state is saved to that folder after every epoch (before the epoch is
    /// reported); with `resume` too, a run whose checkpoint is there continues after its last saved epoch
    /// (the same numbers as an uninterrupted run; the steps and epochs already done are not reported again).
    /// `stop` is asked after every step when there is a checkpoint folder; true ends the run there, its
    /// position saved (see `FinetuneResult.stoppedAfterStep`).
    public func run(checkpoint: String? = nil, resume: Bool = false, report: (FinetuneEvent) throws -> Void = { _ in },
                    stop: (() -> Bool)? = nil) throws -> FinetuneResult {
        let task = train.settings.task
        if options.epochs == 0 {
            guard isRoot else { return FinetuneResult(task: task, bestEpoch: 0, metrics: [], epochs: [], stepLosses: []) }
            let start = DispatchTime.now().uptimeNanoseconds
            let eval = try SuperGLUEEvaluator.evaluate(dev, model: model, evalBatchSize: options.evalBatchSize, promptEncoder: promptEncoder)
            let r = FinetuneEpochReport(epoch: 0, trainLoss: .nan, metrics: eval.metrics, isBest: true,
                                        seconds: Self.seconds(since: start))
            try report(.epoch(r))
            return FinetuneResult(task: task, bestEpoch: 0, metrics: eval.metrics, epochs: [r], stepLosses: [])
        }
        // The end-of-epoch checkpoint holds the model's weights and moments only: not written (and not
        // resumable) with a prompt encoder.
        if promptEncoder != nil && resume { throw SuperGLUEError.configuration("--resume is not supported with continuous prompts") }
        let checkpoint = promptEncoder == nil ? checkpoint : nil
        let loop = FinetuneEpochLoop(options: options, trainCount: train.samples.count, samplesPerStep: samplesPerStep,
                                     totalSteps: totalSteps, runIdentity: runIdentity, model: model, updater: updater,
                                     kept: trainedParameters, broadcast: model.parameters + (promptEncoder?.parameters ?? []))
        let total = totalSteps
        let r = try loop.run(checkpoint: checkpoint, resume: resume, trainStep: { indices, step, epoch in
            try trainStep(indices.map { train.samples[$0] }, step: step, epoch: epoch, totalSteps: total)
        }, evaluate: {
            let metrics = try SuperGLUEEvaluator.evaluate(dev, model: model, evalBatchSize: options.evalBatchSize, promptEncoder: promptEncoder).metrics
            return (metrics, metrics.first?.value ?? .nan)
        }, report: report, stop: stop)
        return FinetuneResult(task: task, bestEpoch: r.bestEpoch, metrics: r.metrics, epochs: r.epochs, stepLosses: r.losses,
                              stoppedAfterStep: r.stoppedAfterStep)
    }

    /// One optimizer step over `samples`: micro-batches of `batchSize`, each weighted by its share of the samples.
    public func trainStep(_ samples: [ClozeSample], step: Int, epoch: Int, totalSteps: Int) throws -> FinetuneStepReport {
        let start = DispatchTime.now().uptimeNanoseconds
        let lr = schedule.rate(forStep: step)
        updater.zeroGradients()
        var loss = 0.0, finite = true
        var micro = 0, offset = 0
        while offset < samples.count {
            var batch = Array(samples[offset..<min(samples.count, offset + globalBatchSize)])
            offset += batch.count
            let tape = Tape(recording: true, training: options.dropout,
                            dropoutSeed: Trainer.dropoutSeed(runSeed: options.seed, step: step, micro: micro))
            micro += 1
            // Data parallel: this rank's contiguous share of the global micro-batch, padded (rows and choices)
            // as the whole micro-batch, its dropout masks placed at its forward rows inside the whole one.
            var shape: (rowsPerSample: [Int], length: Int, width: Int)?
            if let dp = dataParallel {
                let s = try scorer.trainingShape(batch), mine = dp.rows(globalRows: batch.count, perRank: options.batchSize)
                guard !mine.isEmpty else { continue }   // a short last step: nothing here, the sums below still run
                let first = s.rowsPerSample[..<mine.lowerBound].reduce(0, +), local = s.rowsPerSample[mine].reduce(0, +)
                tape.dropoutRows = DropoutRows(first: first, local: local, global: s.rowsPerSample.reduce(0, +))
                batch = Array(batch[mine])
                shape = s
            }
            let share = Double(batch.count) / Double(samples.count)
            guard let value = try stepper.accumulate(on: tape, seed: Float(share), scalarLoss: {
                try scorer.trainingLoss(batch, function: lossFunction, width: shape?.width, minimumLength: shape?.length ?? 0, tape: $0)
            }) else { finite = false; break }
            loss += Double(value) * share
        }
        // Data parallel: summed over the ranks first (each rank's gradients are already weighted by its
        // samples' share of the GLOBAL step).
        let done = try updater.finishStep(loss: loss, finite: finite, learningRate: lr)
        return FinetuneStepReport(step: step, epoch: epoch, totalSteps: totalSteps, loss: done.loss, learningRate: lr,
                                  gradNorm: done.gradNorm, samples: samples.count, seconds: Self.seconds(since: start), skipped: !done.updated)
    }

    /// Writes `model` as a model folder (`config.json` + `model.safetensors`, float32) that every glm
    /// command loads, atomically: written beside `folder` first, then renamed into place (an existing
    /// folder is replaced only once the new one is complete). `tokenizer` names the tokenizer preset in
    /// config.json when the model's config does not.
    public static func save(_ model: GLMModel, to folder: String, tokenizer: String? = nil) throws {
        let fm = FileManager.default
        let target = (folder as NSString).standardizingPath
        let parent = (target as NSString).deletingLastPathComponent
        if !parent.isEmpty { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        let staging = target + ".partial-\(ProcessInfo.processInfo.processIdentifier)"
        let old = target + ".old-\(ProcessInfo.processInfo.processIdentifier)"
        try? fm.removeItem(atPath: staging)
        var config = model.config
        if config.tokenizer == nil { config.tokenizer = tokenizer }
        var weights = StateDict()
        for (name, tensor) in model.stateDict() { weights[name] = tensor }
        do {
            try ModelWriter.saveSafetensors(config: config, weights: weights, to: staging)
            var isDir: ObjCBool = false
            let existed = fm.fileExists(atPath: target, isDirectory: &isDir)
            if existed {
                guard isDir.boolValue else { throw SuperGLUEError.configuration("\(target) exists and is not a folder") }
                try? fm.removeItem(atPath: old)
                try fm.moveItem(atPath: target, toPath: old)
            }
            try fm.moveItem(atPath: staging, toPath: target)
            if existed { try? fm.removeItem(atPath: old) }
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }

    static func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
