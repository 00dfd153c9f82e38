import ArgumentParser
import GLMCheckpoint
import GLMEngine
import Foundation
import GLM
import GLMTokenizers
import GLMTraining

/// `glm pretrain`: GLM's autoregressive blank-infilling pre-training (`pretrain_glm.py`) on a prepared
/// token dataset, with resumable checkpoints. The work is done by `Training` (Trainer, TrainingRun,
/// CheckpointStore); this file turns options into a run spec and reports.
struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Pre-train (or continue training) a GLM with the blank-infilling objective on a prepared dataset.",
        discussion: """
        A new run needs --data (from `glm data prepare`), --steps and a model: --preset NAME, --load PATH (any \
        checkpoint `glm convert` reads, or a --save folder), or --layers --hidden --heads. Options that change \
        the numbers (model, data flags, optimizer, schedule, batch, seed) are stored in every checkpoint; \
        `--save DIR --resume` continues that run bit for bit and refuses such options if they differ. \
        SIGINT/SIGTERM finish the current step, save, and exit 0 (a second signal exits at once).
        --hidden-dropout applies to the embeddings and both residual branches, --attention-dropout to the \
        attention probabilities (both as the original; off at validation and export).
        """)

    // MARK: model
    @Option(help: "Published model size (glm-base, glm-large, ...); also picks that model's data flags.")
    var preset: String?
    @Option(help: "Transformer layers (a new model).") var layers: Int?
    @Option(help: "Hidden size (a new model).") var hidden: Int?
    @Option(help: "Attention heads (a new model).") var heads: Int?
    @Option(help: "Tokens per packed sample (default: the model's max position).") var seqLength: Int?
    @Option(help: "Position-table size, --max-position-embeddings (default: --seq-length).") var maxPosition: Int?
    @Option(help: "Tokenizer preset recorded in config.json (default: the dataset's).") var tokenizer: String?
    @Option(help: "Initial weights: any model GLMModel.load reads, or a --save folder (its latest checkpoint).")
    var load: String?
    @Option(help: "Dropout on embeddings and residual branches (the original's --hidden-dropout, default 0.1).")
    var hiddenDropout: Double?
    @Option(help: "Position tables of a new model: normal (N(0, 0.02), the original's) or sinusoidal (learned tables that start as sinusoids: context is usable far sooner on small corpora).")
    var positionInit: String = "normal"
    @Option(help: "Dropout on attention probabilities (the original's --attention-dropout; new models default to 0, a loaded model keeps its config's).")
    var attentionDropout: Double?

    // MARK: data
    @Option(help: "Prepared training dataset folder (glm data prepare).") var data: String?
    @Option(help: "Separate prepared validation dataset (instead of the split's second part).") var validData: String?
    @Option(help: "Train/valid/test weights over the training dataset's documents (default 949,50,1; with --valid-data: 1, all for training).") var split: String?
    @OptionGroup(title: "Blank-infilling objective (as glm data sample; default: --preset's script, else the original's defaults)")
    var objective: BlankInfillingOptions

    // MARK: optimizer and schedule
    @Option(help: "Peak learning rate (default 1e-4).") var lr: Double?
    @Option(help: "Warm-up as a fraction of the decay iterations (default 0.01).") var warmup: Double?
    @Option(help: "constant, linear, cosine or exponential (= constant, as the original) (default linear).")
    var lrDecayStyle: String?
    @Option(help: "Final learning rate as a fraction of the peak (default 0.1).") var lrDecayRatio: Double?
    @Option(help: "Iterations the decay spans (default --steps).") var lrDecayIters: Int?
    @Option(help: "AdamW weight decay, not on biases and LayerNorm (default 0.1).") var weightDecay: Double?
    @Option(help: "AdamW β1 (default 0.9).") var adamBeta1: Double?
    @Option(help: "AdamW β2 (default 0.98).") var adamBeta2: Double?
    @Option(help: "AdamW ε (default 1e-6).") var adamEps: Double?
    @Option(help: "Gradient-norm clipping, 0 = off (default 1.0).") var clipGrad: Double?

    // MARK: run
    @Option(help: "Samples per micro-batch (default 4).") var batchSize: Int?
    @Option(help: "Micro-batches per optimizer step (default 1).") var gradAccum: Int?
    @Option(help: "Train until this many optimizer steps in total (resume: default the run's target).") var steps: Int?
    @Option(help: "Run seed: initialisation, sample packing, spans, dropout (default 1234).") var seed: UInt64?
    @Option(help: "Threads for oneDNN and the kernels (results do not depend on it; default: all cores).")
    var threads: Int?

    // MARK: validation, checkpoints, logging
    @Option(help: "Validate every N steps, 0 = never (default 1000; resume: the run's).") var evalInterval: Int?
    @Option(help: "Validation batches per evaluation, always the same ones (default 20; resume: the run's).") var evalIters: Int?
    @Option(help: "Checkpoint folder.") var save: String?
    @Option(help: "Save every N steps, 0 = only at the end (default 1000; resume: the run's).") var saveInterval: Int?
    @Option(help: "Checkpoints to keep (0 = all).") var keep: Int = 3
    @Flag(help: "Continue the run whose latest checkpoint is in --save.") var resume = false
    @Option(help: "JSON-lines log file (step, loss, lr, grad_norm, tokens_per_s, valid_loss).") var log: String?
    @Option(help: "Console line every N steps when stdout is not a terminal.") var logInterval: Int = 10

    // MARK: after training
    @Option(help: "Write the final model (config.json + model.safetensors) to this folder.") var export: String?
    @Option(help: "Weight dtype of --export: f32, bf16 or f16.") var exportDtype: String = "f32"
    @Option(help: "Single-token [MASK] accuracy on the sentences (one per line) of this file.") var clozeEval: String?
    @Option(help: "Sentences of --cloze-eval to test.") var clozeCount: Int = 500
    @Option(help: "A prompt with one [MASK] to fill (repeatable); prints the top 5.") var clozePrompt: [String] = []

    func validate() throws {
        if resume && save == nil { throw ValidationError("--resume needs --save DIR (the folder of the run's checkpoints)") }
        if resume && load != nil { throw ValidationError("--resume continues the run in --save; --load starts a new run from weights — use one") }
        for (name, v) in [("--eval-interval", evalInterval ?? 0), ("--eval-iters", evalIters ?? 0), ("--save-interval", saveInterval ?? 0),
                          ("--keep", keep), ("--cloze-count", clozeCount)] where v < 0 {
            throw ValidationError("\(name) must be ≥ 0")
        }
        if let t = threads, t < 1 { throw ValidationError("--threads must be ≥ 1") }
        if let s = steps, s < 0 { throw ValidationError("--steps must be ≥ 0") }
    }

    func run() throws {
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let progress = TrainingProgress(interval: logInterval)
        let store = save.map { CheckpointStore(directory: $0, keep: keep) }
        let edits = try specEdits()

        let trainer: Trainer
        var options = RunOptions(steps: steps ?? 0, evalInterval: 1000, evalIters: 20, saveInterval: 1000)
        var resumedAt: Int?
        if resume, let store {
            guard let folder = try store.latestFolder() else {
                throw ValidationError("no checkpoint in \(store.directory) to resume (\(CheckpointStore.pointerFile) is missing); start without --resume")
            }
            let ck = try CheckpointStore.load(folder: folder)
            try PretrainSetup.checkResume(stored: ck.state.spec, edits: edits)
            let opened = try TrainingBatches.open(spec: ck.state.spec)
            trainer = try Trainer(spec: ck.state.spec, model: ck.model, batches: opened.batches)
            try trainer.restore(step: ck.state.step, optimizerStep: ck.state.optimizerStep, expAvg: ck.expAvg, expAvgSq: ck.expAvgSq)
            options = ck.state.run
            if let steps { options.steps = steps }
            resumedAt = ck.state.step
            progress.message("resuming \(folder): step \(ck.state.step) of \(options.steps)")
        } else {
            if let store, let existing = try? store.latestFolder() {
                throw ValidationError("\(store.directory) already holds a run's checkpoint (\(existing)): add --resume to continue it, or choose another --save folder")
            }
            guard let steps else { throw ValidationError("--steps is required for a new run") }
            trainer = try newTrainer(edits: edits, steps: steps, progress: progress)
        }
        if let v = evalInterval { options.evalInterval = v }
        if let v = evalIters { options.evalIters = v }
        if let v = saveInterval { options.saveInterval = v }
        let spec = trainer.spec
        progress.message("model: \(spec.model.numLayers) layers, hidden \(spec.model.hiddenSize), \(spec.model.numAttentionHeads) heads, vocab \(spec.model.vocabSize), max position \(spec.model.maxSequenceLength): \(trainer.model.parameters.reduce(0) { $0 + $1.value.count }) parameters")
        progress.message("data: \(spec.trainData.directory) (\(spec.trainData.tokens) tokens), seq \(spec.data.seqLength), batch \(spec.batchSize) × \(spec.gradientAccumulation), objectives bert \(spec.data.bertProb) / sentence \(spec.data.gapSentenceProb) / gpt \(String(format: "%.2f", spec.data.gptProb)); lr \(spec.schedule.peak) \(spec.schedule.style.rawValue) to ×\(spec.schedule.decayRatio) over \(spec.schedule.decayIterations) (warm-up \(spec.schedule.warmup)); \(Runtime.threads) thread(s)")

        let logFile = try log.map { try TrainingLog(path: $0, resumingAtStep: resumedAt) }
        logFile?.write([("event", .string(resumedAt == nil ? "start" : "resume")), ("step", .int(trainer.step)),
                        ("target_steps", .int(options.steps)), ("threads", .int(Runtime.threads))])
        let stop = StopSignal { sig in
            print("\n\(sig == SIGINT ? "SIGINT" : "SIGTERM"): finishing this step, then saving and exiting (signal again to exit at once)")
        }
        let runner = TrainingRun(trainer: trainer, options: options, store: store, log: logFile, progress: progress, stop: stop)
        let summary = try runner.run()
        report(summary, trainer: trainer, progress: progress)
        if summary.stoppedBy != nil { return }
        if let export { try exportModel(trainer.model, to: export, progress: progress) }
        if clozeEval != nil || !clozePrompt.isEmpty { try cloze(trainer: trainer, log: logFile, progress: progress) }
    }

    // MARK: - spec

    /// Every math option the user gave, as an edit of the spec.
    func specEdits() throws -> [SpecEdit] {
        var e: [SpecEdit] = []
        func add<T>(_ name: String, _ v: T?, _ f: @escaping (inout TrainingSpec, T) -> Void) {
            if let v { e.append(SpecEdit("--\(name) \(v)") { f(&$0, v) }) }
        }
        add("layers", layers) { $0.model.numLayers = $1 }
        add("hidden", hidden) { $0.model.hiddenSize = $1 }
        add("heads", heads) { $0.model.numAttentionHeads = $1 }
        add("max-position", maxPosition) { $0.model.maxSequenceLength = $1 }
        add("seq-length", seqLength) { $0.data.seqLength = $1 }
        add("tokenizer", tokenizer) { $0.model.tokenizer = $1 }
        add("hidden-dropout", hiddenDropout) { $0.model.embeddingDropoutProb = $1; $0.model.outputDropoutProb = $1 }
        add("attention-dropout", attentionDropout) { $0.model.attentionDropoutProb = $1 }
        let o = objective
        if let name = o.objectivePreset {
            guard let c = BlankInfillingConfig.preset(name) else {
                throw ValidationError("--objective-preset \(name) is unknown (known: \(BlankInfillingConfig.presetNames.joined(separator: ", ")))")
            }
            e.append(SpecEdit("--objective-preset \(name)") { let s = $0.data.seqLength; $0.data = c; $0.data.seqLength = s })
        }
        add("bert-prob", o.bertProb) { $0.data.bertProb = $1 }
        add("gap-sentence-prob", o.gapSentenceProb) { $0.data.gapSentenceProb = $1 }
        add("gpt-infill-prob", o.gptInfillProb) { $0.data.gptInfillProb = $1 }
        add("gpt-min-ratio", o.gptMinRatio) { $0.data.gptMinRatio = $1 }
        add("bert-ratio", o.bertRatio) { $0.data.bertRatio = $1 }
        add("gap-sentence-ratio", o.gapSentenceRatio) { $0.data.gapSentenceRatio = $1 }
        add("avg-block-length", o.avgBlockLength) { $0.data.avgBlockLength = $1 }
        add("block-mask-prob", o.blockMaskProb) { $0.data.blockMaskProb = $1 }
        add("context-mask-ratio", o.contextMaskRatio) { $0.data.contextMaskRatio = $1 }
        add("short-seq-prob", o.shortSeqProb) { $0.data.shortSeqProb = $1 }
        add("single-span-prob", o.singleSpanProb) { $0.data.singleSpanProb = $1 }
        // Flags count as given only when set (they cannot be told apart from "not given" otherwise).
        if o.taskMask { e.append(SpecEdit("--task-mask") { $0.data.taskMask = true }) }
        if o.noShuffleBlock { e.append(SpecEdit("--no-shuffle-block") { $0.data.shuffleBlocks = false }) }
        if o.noBlockPosition {
            e.append(SpecEdit("--no-block-position") { $0.data.blockPositionEncoding = false })
        }
        if o.sampleOneDocument { e.append(SpecEdit("--sample-one-document") { $0.data.sampleAcrossDocuments = false }) }
        add("lr", lr) { $0.schedule.peak = $1 }
        add("warmup", warmup) { $0.schedule.warmup = $1 }
        if let lrDecayStyle {
            guard let style = LearningRateSchedule.Style(rawValue: lrDecayStyle.lowercased()) else {
                throw ValidationError("--lr-decay-style must be constant, linear, cosine or exponential (got \(lrDecayStyle))")
            }
            add("lr-decay-style", style) { $0.schedule.style = $1 }
        }
        add("lr-decay-ratio", lrDecayRatio) { $0.schedule.decayRatio = $1 }
        add("lr-decay-iters", lrDecayIters) { $0.schedule.decayIterations = $1 }
        add("weight-decay", weightDecay) { $0.optimizer.weightDecay = $1 }
        add("adam-beta1", adamBeta1) { $0.optimizer.beta1 = $1 }
        add("adam-beta2", adamBeta2) { $0.optimizer.beta2 = $1 }
        add("adam-eps", adamEps) { $0.optimizer.eps = $1 }
        add("clip-grad", clipGrad) { $0.optimizer.clipGrad = $1 }
        add("batch-size", batchSize) { $0.batchSize = $1 }
        add("grad-accum", gradAccum) { $0.gradientAccumulation = $1 }
        add("seed", seed) { $0.seed = $1 }
        if let split {
            let w = try DocumentSplit.parseWeights(split)
            add("split", w) { $0.split = $1 }
        }
        if let data {
            let id = try TrainingBatches.identity(of: data).0
            add("data", id) { $0.trainData = $1 }
        }
        if let validData {
            let id = try TrainingBatches.identity(of: validData).0
            add("valid-data", id) { $0.validData = $1 }
        }
        return e
    }

    func newTrainer(edits: [SpecEdit], steps: Int, progress: TrainingProgress) throws -> Trainer {
        guard let data else { throw ValidationError("--data DIR (a dataset from `glm data prepare`) is required for a new run") }
        let (identity, dataset) = try TrainingBatches.identity(of: data)
        let tokenizerInfo = dataset.meta.tokenizer
        var weights: StateDict?
        var config: GLMConfig
        guard let positions = GLMModel.PositionInitialization(rawValue: positionInit) else {
            throw ValidationError("--position-init must be normal or sinusoidal (got \(positionInit))")
        }
        var initialization = "random (seed \(seed ?? 1234)" + (positions == .normal ? ")" : ", sinusoidal positions)")
        if let load {
            var path = load
            if let folder = try? CheckpointStore(directory: load).latestFolder() { path = folder }
            let loaded = try ModelFiles.load(path, options: ModelLoadOptions(preset: preset, tokenizer: tokenizer))
            config = loaded.config
            weights = loaded.weights
            initialization = "load \(path)"
        } else if let preset {
            guard let p = GLMPreset.named(preset) else {
                throw ValidationError("--preset \(preset) is unknown (known: \(GLMPreset.names.joined(separator: ", ")))")
            }
            config = p.config
        } else {
            guard let layers, let hidden, let heads else {
                throw ValidationError("a new model needs --preset NAME, --load PATH, or --layers, --hidden and --heads")
            }
            config = GLMConfig(numLayers: layers, hiddenSize: hidden, numAttentionHeads: heads,
                               vocabSize: PretrainSetup.paddedVocabulary(tokenizerInfo.tokenCount),
                               maxSequenceLength: maxPosition ?? seqLength ?? 512)
            // A new model trains without attention-probability dropout unless --attention-dropout asks for it.
            config.attentionDropoutProb = 0
        }
        if config.tokenizer == nil { config.tokenizer = tokenizerInfo.preset }
        var dataConfig = BlankInfillingConfig.preset(preset ?? "") ?? BlankInfillingConfig()
        dataConfig.seqLength = seqLength ?? config.maxSequenceLength
        let base = TrainingSpec(model: config, data: dataConfig, seed: 1234, batchSize: 4, gradientAccumulation: 1,
                                schedule: LearningRateSchedule(peak: 1e-4, decayIterations: max(1, steps)),
                                optimizer: OptimizerSpec(), split: validData == nil ? [949, 50, 1] : [1], trainData: identity, validData: nil,
                                initialization: initialization)
        let spec = PretrainSetup.applying(edits, to: base)
        guard tokenizerInfo.tokenCount <= spec.model.vocabSize else {
            throw ValidationError("the dataset's tokenizer (\(tokenizerInfo.preset)) has \(tokenizerInfo.tokenCount) ids, the model only \(spec.model.vocabSize) embedding rows")
        }
        if let t = spec.model.tokenizer, t != tokenizerInfo.preset {
            progress.message("note: the model's tokenizer preset is \(t), the dataset was prepared with \(tokenizerInfo.preset)")
        }
        try spec.validate()
        let model = try weights.map { try GLMModel(config: spec.model, stateDict: $0) } ?? GLMModel.random(config: spec.model, seed: spec.seed, positions: positions)
        let opened = try TrainingBatches.open(spec: spec)
        progress.message("documents: \(opened.trainDocuments) for training, \(opened.validDocuments) for validation")
        return try Trainer(spec: spec, model: model, batches: opened.batches)
    }

    // MARK: - after training

    func report(_ s: RunSummary, trainer: Trainer, progress: TrainingProgress) {
        let last = s.results.suffix(50).filter { !$0.skipped }
        let meanLoss = last.isEmpty ? Double.nan : last.reduce(0) { $0 + $1.loss } / Double(last.count)
        let tokens = s.results.reduce(0) { $0 + $1.tokens }
        var line = "\(s.results.count) step(s) in \(TrainingProgress.duration(s.seconds)) (\(String(format: "%.0f", s.seconds > 0 ? Double(tokens) / s.seconds : 0)) tokens/s); now at step \(s.finalStep)"
        if !last.isEmpty { line += String(format: "; train loss (mean of last %d) %.4f", last.count, meanLoss) }
        if let v = s.validLosses.last { line += String(format: "; validation loss %.4f at step %d", v.loss, v.step) }
        progress.message(line)
        if let c = s.lastCheckpoint { progress.message("checkpoint: \(c)") }
        if let sig = s.stoppedBy {
            progress.message("stopped by \(sig == SIGINT ? "SIGINT" : "SIGTERM") after step \(s.finalStep)"
                             + (save != nil ? "; continue with the same command plus --resume" : " (no --save folder: nothing was saved)"))
        }
    }

    func exportModel(_ model: GLMModel, to folder: String, progress: TrainingProgress) throws {
        guard let dtype = StoredDType(userName: exportDtype) else { throw ValidationError("--export-dtype must be f32, bf16 or f16") }
        var weights: StateDict = [:]
        for (n, t) in model.stateDict() { weights[n] = t }
        try ModelWriter.saveSafetensors(config: model.config, weights: weights, to: folder, dtype: dtype)
        progress.message("exported \(folder) (config.json + model.safetensors, \(dtype.rawValue))")
    }

    func cloze(trainer: Trainer, log: TrainingLog?, progress: TrainingProgress) throws {
        let preset = trainer.spec.model.tokenizer ?? "glm-large"
        let tok = try TokenizerLoader.load(presetNamed: preset)
        let evaluator = try ClozeEvaluator(model: trainer.model, tokenizer: tok)
        for prompt in clozePrompt {
            let top = try evaluator.top(try evaluator.item(prompt: prompt))
            progress.message("\(prompt)\n  → " + top.map { "\(tok.token(for: Int($0.id)) ?? "?") \(String(format: "%.3f", $0.probability))" }.joined(separator: ", "))
        }
        guard let clozeEval else { return }
        let text: String
        do { text = try String(contentsOfFile: clozeEval, encoding: .utf8) } catch {
            throw ValidationError("--cloze-eval \(clozeEval): cannot read (\(error.localizedDescription))")
        }
        let items = evaluator.makeItems(lines: text.components(separatedBy: "\n"), count: clozeCount, seed: trainer.spec.seed)
        guard !items.isEmpty else { throw ValidationError("--cloze-eval \(clozeEval): no usable sentence") }
        let dataset = try TokenDataset(directory: trainer.spec.trainData.directory)
        let baseline = ClozeEvaluator.mostFrequentEligibleToken(in: dataset, tokenizer: tok)
        let r = try evaluator.evaluate(items, baselineToken: baseline)
        func piece(_ id: Int32) -> String { tok.token(for: Int(id)) ?? "?" }
        progress.message(String(format: "cloze: %d sentences of %@, one word-piece masked: model %.1f %% exact match; always \"%@\" (most frequent in training) %.1f %%; always \"%@\" (most frequent answer here) %.1f %%",
                                r.total, clozeEval, r.accuracy * 100, piece(r.baselineToken), r.baselineAccuracy * 100,
                                piece(r.oracleToken), r.oracleAccuracy * 100))
        for (item, p) in r.predictions.prefix(5) {
            progress.message("  \(item.text)\n    blank \"\(piece(item.target))\" → \"\(piece(p))\"")
        }
        log?.write([("event", .string("cloze")), ("step", .int(trainer.step)), ("sentences", .int(r.total)),
                    ("accuracy", .double(r.accuracy)), ("baseline_token", .string(piece(r.baselineToken))),
                    ("baseline_accuracy", .double(r.baselineAccuracy)), ("oracle_token", .string(piece(r.oracleToken))),
                    ("oracle_accuracy", .double(r.oracleAccuracy))])
    }
}
