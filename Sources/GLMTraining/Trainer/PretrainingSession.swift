// A pre-training run from options to result: the trainer built new or resumed from the latest
// checkpoint, run with checkpoints and logs, then exported and cloze-tested. `glm pretrain` is a thin
// shell over this, and a fine-tuning command or a library user reuses it.
import Foundation
import GLMCheckpoint
import GLMEngine
import GLM

/// One pre-training run. `init` resumes the run in `options.save` when `options.resume` is set (every
/// given math option must match the stored spec), and otherwise starts a new one; `run` trains to the
/// target step; `cloze` tests the trained model.
public final class PretrainingSession {
    public let options: PretrainingOptions
    public let trainer: Trainer
    /// How the loop is driven (the stored run's, overridden by the options that were given).
    public let runOptions: RunOptions
    public let store: CheckpointStore?
    /// The step the run resumed at; nil for a new run.
    public let resumedAt: Int?
    /// The model the cloze tests run on when it is not the trainer's: with tensor model parallelism the
    /// trainer holds one partition, and the caller sets the merged model here (`GLMModel.fullStateDict`).
    public var evaluationModel: GLMModel?

    /// Builds the trainer: resumed from `options.save` (with `options.resume`) or new. `message` gets
    /// one-line notes (what was resumed, documents, tokenizer mismatches).
    ///
    /// - dataParallel: train with these processes (`mpirun`). `options.batchSize` is then per rank, as the
    ///   original's `--batch-size`; the run's spec (and every checkpoint) holds the GLOBAL batch, so the
    ///   run is the one-process run with that batch, and resumes on any number of ranks dividing it.
    ///   Parameters are broadcast from rank 0 before the first step.
    /// - modelParallel: tensor model parallelism (`--model-parallel-size M`): the model is built (or loaded,
    ///   or resumed from a checkpoint of ANY model-parallel size) whole, exactly as one process builds it,
    ///   and this rank keeps its `ModelParallel.split` partition (`GLMModel(partitioning:group:)`), the
    ///   AdamW moments likewise. `dataParallel` is then the group of ranks holding the same partition.
    public init(options: PretrainingOptions, dataParallel: DataParallel? = nil,
                modelParallel: (any ModelParallelCollectives)? = nil, message: (String) -> Void = { _ in }) throws {
        self.options = options
        Runtime.setThreads(options.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let store = options.save.map { CheckpointStore(directory: $0, keep: options.keep) }
        var globalOptions = options
        if let dp = dataParallel, !(options.resume && options.batchSize == nil) {
            globalOptions.batchSize = (options.batchSize ?? 4) * dp.size
        }
        let edits = try globalOptions.specEdits()
        var run = RunOptions(steps: options.steps ?? 0, evalInterval: 1000, evalIters: 20, saveInterval: 1000)
        if options.resume {
            guard let store else { throw TrainingError.invalidOption("resuming needs a checkpoint folder (--save DIR)") }
            guard let folder = try store.latestFolder() else {
                throw TrainingError.invalidOption("no checkpoint in \(store.directory) to resume (\(CheckpointStore.pointerFile) is missing); start without --resume")
            }
            let ck = try CheckpointStore.load(folder: folder)
            try PretrainSetup.checkResume(stored: ck.state.spec, edits: edits)
            let opened = try TrainingBatches.open(spec: ck.state.spec)
            let model = try Self.partitioned(ck.model, modelParallel)
            trainer = try Trainer(spec: ck.state.spec, model: model, batches: opened.batches, dataParallel: dataParallel)
            func part(_ moments: [Tensor]) throws -> [Tensor] {
                guard let group = modelParallel else { return moments }
                return try zip(ck.model.parameters, moments).map { p, t in
                    try GLMModel.partition(t, name: p.name, rank: group.rank, of: group.size)
                }
            }
            try trainer.restore(step: ck.state.step, optimizerStep: ck.state.optimizerStep, expAvg: try part(ck.expAvg),
                                expAvgSq: try part(ck.expAvgSq))
            run = ck.state.run
            if let steps = options.steps { run.steps = steps }
            resumedAt = ck.state.step
            message("resuming \(folder): step \(ck.state.step) of \(run.steps)")
        } else {
            if let store, let existing = try? store.latestFolder() {
                throw TrainingError.invalidOption("\(store.directory) already holds a run's checkpoint (\(existing)): add --resume to continue it, or choose another --save folder")
            }
            guard let steps = options.steps else { throw TrainingError.invalidOption("--steps is required for a new run") }
            trainer = try Self.newTrainer(options, edits: edits, steps: steps, dataParallel: dataParallel,
                                          modelParallel: modelParallel, message: message)
            resumedAt = nil
        }
        trainer.stepper.compute = options.compute
        if let v = options.evalInterval { run.evalInterval = v }
        if let v = options.evalIters { run.evalIters = v }
        if let v = options.saveInterval { run.saveInterval = v }
        runOptions = run
        self.store = store
        try dataParallel?.broadcastParameters(trainer.model.parameters)
    }

    /// The model, the data and the schedule in two lines, for the console.
    public var description: [String] {
        let spec = trainer.spec
        var parallel = trainer.dataParallel.map { dp in
            ["data parallel: \(dp.size) processes × \(spec.batchSize / dp.size) rows (global batch \(spec.batchSize))"
             + (dp.zeroStage == 1 ? ", ZeRO-1 (AdamW moments sharded)" : "")]
        } ?? []
        if let mp = trainer.model.modelParallel {
            parallel.append("tensor model parallel: \(mp.size) ranks per model (each holds \(spec.model.numAttentionHeads / mp.size) heads and 1/\(mp.size) of the vocabulary and MLP)")
        }
        return parallel + [
            "model: \(spec.model.numLayers) layers, hidden \(spec.model.hiddenSize), \(spec.model.numAttentionHeads) heads, vocab \(spec.model.vocabSize), max position \(spec.model.maxSequenceLength): \(spec.model.parameterCount) parameters",
            "data: \(spec.trainData.directory) (\(spec.trainData.tokens) tokens), seq \(spec.data.seqLength), batch \(spec.batchSize) × \(spec.gradientAccumulation), objectives bert \(spec.data.bertProb) / sentence \(spec.data.gapSentenceProb) / gpt \(String(format: "%.2f", spec.data.gptProb)); lr \(spec.schedule.peak) \(spec.schedule.style.rawValue) to ×\(spec.schedule.decayRatio) over \(spec.schedule.decayIterations) (warm-up \(spec.schedule.warmup)); \(Runtime.threads) thread(s), \(trainer.stepper.compute.shortName)",
        ]
    }

    /// Opens `options.log` (cut back to the resumed step) and records the start or resume.
    public func openLog() throws -> TrainingLog? {
        let log = try options.log.map { try TrainingLog(path: $0, resumingAtStep: resumedAt) }
        log?.write([("event", .string(resumedAt == nil ? "start" : "resume")), ("step", .int(trainer.step)),
                    ("target_steps", .int(runOptions.steps)), ("threads", .int(Runtime.threads)),
                    ("dtype", .string(trainer.stepper.compute.shortName))])
        return log
    }

    /// Trains to `runOptions.steps` (or until `stop`), validating, saving and logging as the options say.
    public func run(log: TrainingLog?, progress: TrainingProgress?, stop: StopSignal?) throws -> RunSummary {
        try TrainingRun(trainer: trainer, options: runOptions, store: store, log: log, progress: progress, stop: stop).run()
    }

    /// The closing lines of a run: steps, speed, losses, the checkpoint, and how a stopped run continues.
    public func report(_ s: RunSummary) -> [String] {
        let last = s.results.suffix(50).filter { !$0.skipped }
        let meanLoss = last.isEmpty ? Double.nan : last.reduce(0) { $0 + $1.loss } / Double(last.count)
        let tokens = s.results.reduce(0) { $0 + $1.tokens }
        var line = "\(s.results.count) step(s) in \(TrainingProgress.duration(s.seconds)) (\(String(format: "%.0f", s.seconds > 0 ? Double(tokens) / s.seconds : 0)) tokens/s); now at step \(s.finalStep)"
        if !last.isEmpty { line += String(format: "; train loss (mean of last %d) %.4f", last.count, meanLoss) }
        if let v = s.validLosses.last { line += String(format: "; validation loss %.4f at step %d", v.loss, v.step) }
        var lines = [line]
        if let c = s.lastCheckpoint { lines.append("checkpoint: \(c)") }
        if let sig = s.stoppedBy {
            lines.append("stopped by \(sig == SIGINT ? "SIGINT" : "SIGTERM") after step \(s.finalStep)"
                         + (options.save != nil ? "; continue with the same command plus --resume" : " (no --save folder: nothing was saved)"))
        }
        return lines
    }

    /// This rank's partition of the whole model (the model itself without model parallelism).
    static func partitioned(_ full: GLMModel, _ group: (any ModelParallelCollectives)?) throws -> GLMModel {
        guard let group else { return full }
        return try GLMModel(partitioning: full, group: group)
    }

    private static func newTrainer(_ o: PretrainingOptions, edits: [SpecEdit], steps: Int, dataParallel: DataParallel?,
                                   modelParallel: (any ModelParallelCollectives)?, message: (String) -> Void) throws -> Trainer {
        guard let data = o.data else { throw TrainingError.invalidOption("--data DIR (a dataset from `glm data prepare`) is required for a new run") }
        let (identity, dataset) = try TrainingBatches.identity(of: data)
        let tokenizerInfo = dataset.meta.tokenizer
        var weights: StateDict?
        var config: GLMConfig
        var initialization = "random (seed \(o.seed ?? 1234)" + (o.positionInit == .normal ? ")" : ", sinusoidal positions)")
        if let load = o.load {
            var path = load
            if let folder = try? CheckpointStore(directory: load).latestFolder() { path = folder }
            let loaded = try ModelFiles.load(path, options: ModelLoadOptions(preset: o.preset, tokenizer: o.tokenizer))
            config = loaded.config
            weights = loaded.weights
            initialization = "load \(path)"
        } else if let preset = o.preset {
            guard let p = GLMPreset.named(preset) else {
                throw TrainingError.invalidOption("--preset \(preset) is unknown (known: \(GLMPreset.names.joined(separator: ", ")))")
            }
            config = p.config
        } else {
            guard let layers = o.layers, let hidden = o.hidden, let heads = o.heads else {
                throw TrainingError.invalidOption("a new model needs --preset NAME, --load PATH, or --layers, --hidden and --heads")
            }
            config = GLMConfig(numLayers: layers, hiddenSize: hidden, numAttentionHeads: heads,
                               vocabSize: PretrainSetup.paddedVocabulary(tokenizerInfo.tokenCount),
                               maxSequenceLength: o.maxPosition ?? o.seqLength ?? 512)
            // A new model trains without attention-probability dropout unless asked for.
            config.attentionDropoutProb = 0
        }
        if config.tokenizer == nil { config.tokenizer = tokenizerInfo.preset }
        var dataConfig = BlankInfillingConfig.preset(o.preset ?? "") ?? BlankInfillingConfig()
        dataConfig.seqLength = o.seqLength ?? config.maxSequenceLength
        let base = TrainingSpec(model: config, data: dataConfig, seed: 1234, batchSize: 4, gradientAccumulation: 1,
                                schedule: LearningRateSchedule(peak: 1e-4, decayIterations: max(1, steps)),
                                optimizer: OptimizerSpec(), split: o.validData == nil ? [949, 50, 1] : [1], trainData: identity,
                                validData: nil, initialization: initialization)
        let spec = PretrainSetup.applying(edits, to: base)
        guard tokenizerInfo.tokenCount <= spec.model.vocabSize else {
            throw TrainingError.invalidOption("the dataset's tokenizer (\(tokenizerInfo.preset)) has \(tokenizerInfo.tokenCount) ids, the model only \(spec.model.vocabSize) embedding rows")
        }
        if let t = spec.model.tokenizer, t != tokenizerInfo.preset {
            message("note: the model's tokenizer preset is \(t), the dataset was prepared with \(tokenizerInfo.preset)")
        }
        try spec.validate()
        // Model parallel: each rank keeps its partition of exactly the one-process model, split tensor by
        // tensor as it is initialised or converted (never the whole model in memory).
        let model: GLMModel
        if let group = modelParallel {
            model = try weights.map { try GLMModel(config: spec.model, stateDict: $0, partitionOf: group) }
                ?? GLMModel.random(config: spec.model, seed: spec.seed, positions: o.positionInit, modelParallel: group)
        } else {
            model = try weights.map { try GLMModel(config: spec.model, stateDict: $0) }
                ?? GLMModel.random(config: spec.model, seed: spec.seed, positions: o.positionInit)
        }
        let opened = try TrainingBatches.open(spec: spec)
        message("documents: \(opened.trainDocuments) for training, \(opened.validDocuments) for validation")
        return try Trainer(spec: spec, model: model, batches: opened.batches, dataParallel: dataParallel)
    }
}
