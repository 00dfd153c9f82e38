import ArgumentParser
import GLMCheckpoint
import Foundation
import GLM
import GLMEngine
import GLMTraining

/// `glm pretrain`: GLM's autoregressive blank-infilling pre-training (`pretrain_glm.py`) on a prepared
/// token dataset, with resumable checkpoints. The work is done by `PretrainingSession` (GLMTraining);
/// this file turns flags into `PretrainingOptions` and prints what the session reports.
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
    @Option(help: "GEMM precision: fp32, bf16 (mixed precision: bf16 products, fp32 accumulation, master weights, optimizer state and loss) or auto (bf16 where this CPU has native bf16 and the probe measures it faster, else fp32; with mpirun, rank 0's choice).")
    var dtype: ComputeDType = .auto
    @OptionGroup(title: "Multi-process training (mpirun -np N glm pretrain …; --batch-size is then per process)")
    var distributed: DistributedOptions

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

    /// The flags as library options (spellings checked here, values checked by the library).
    func options() throws -> PretrainingOptions {
        var o = PretrainingOptions()
        o.preset = preset; o.layers = layers; o.hidden = hidden; o.heads = heads; o.seqLength = seqLength
        o.maxPosition = maxPosition; o.tokenizer = tokenizer; o.load = load
        o.hiddenDropout = hiddenDropout; o.attentionDropout = attentionDropout
        guard let positions = GLMModel.PositionInitialization(rawValue: positionInit) else {
            throw ValidationError("--position-init must be normal or sinusoidal (got \(positionInit))")
        }
        o.positionInit = positions
        o.data = data; o.validData = validData
        o.split = try split.map { try DocumentSplit.parseWeights($0) }
        o.objective = objective.overrides
        o.lr = lr; o.warmup = warmup
        if let lrDecayStyle {
            guard let style = LearningRateSchedule.Style(rawValue: lrDecayStyle.lowercased()) else {
                throw ValidationError("--lr-decay-style must be constant, linear, cosine or exponential (got \(lrDecayStyle))")
            }
            o.lrDecayStyle = style
        }
        o.lrDecayRatio = lrDecayRatio; o.lrDecayIters = lrDecayIters; o.weightDecay = weightDecay
        o.adamBeta1 = adamBeta1; o.adamBeta2 = adamBeta2; o.adamEps = adamEps; o.clipGrad = clipGrad
        o.batchSize = batchSize; o.gradAccum = gradAccum; o.steps = steps; o.seed = seed; o.threads = threads
        o.evalInterval = evalInterval; o.evalIters = evalIters; o.saveInterval = saveInterval
        o.save = save; o.keep = keep; o.resume = resume; o.log = log
        return o
    }

    func run() throws {
        let job = try distributed.job()
        try runAsRank { try train(job) }
    }

    /// The run on this process. With `mpirun` every rank trains (data parallel, and with
    /// --model-parallel-size M each on its partition of the model); global rank 0 alone prints, writes
    /// --log and the checkpoint pointer, exports and cloze-tests.
    func train(_ job: DistributedJob?) throws {
        let dp = job?.dataParallel
        let isRoot = job?.isRoot ?? true
        let progress = TrainingProgress(interval: logInterval)
        var o = try options()
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        // Every rank must compute in the same precision: the probe's timing may differ per process, so
        // global rank 0's choice is taken.
        o.compute = try rankZeroCompute(try dtype.resolve(say: isRoot ? progress.message : { _ in }), job)
        let session = try PretrainingSession(options: o, dataParallel: dp, modelParallel: job?.modelParallel,
                                             message: isRoot ? progress.message : { _ in })
        if isRoot { for line in session.description { progress.message(line) } }
        let logFile = isRoot ? try session.openLog() : nil
        let stop = StopSignal { sig in
            if isRoot { print("\n\(sig == SIGINT ? "SIGINT" : "SIGTERM"): finishing this step, then saving and exiting (signal again to exit at once)") }
        }
        let summary = try session.run(log: logFile, progress: isRoot ? progress : nil, stop: stop)
        if let job {
            let line = try collectiveReport(job, steps: summary.results.count)
            if isRoot { progress.message(line) }
        }
        // Model parallel: the export and the cloze tests need the whole model, gathered on every rank.
        let needsWhole = summary.stoppedBy == nil && (export != nil || clozeEval != nil || !clozePrompt.isEmpty)
        var whole = session.trainer.model
        if job?.modelParallel != nil && needsWhole {
            var weights: StateDict = [:]
            for (n, t) in try session.trainer.model.fullStateDict() { weights[n] = t }
            if isRoot { whole = try GLMModel(config: session.trainer.model.config, stateDict: weights) }
            session.evaluationModel = whole
        }
        guard isRoot else { return }
        for line in session.report(summary) { progress.message(line) }
        if summary.stoppedBy != nil { return }
        if let export { try exportModel(whole, to: export, progress: progress) }
        for line in try session.clozePrompts(clozePrompt) { progress.message(line) }
        if let clozeEval {
            for line in try session.clozeEvaluation(file: clozeEval, count: clozeCount, log: logFile) { progress.message(line) }
        }
    }

    func exportModel(_ model: GLMModel, to folder: String, progress: TrainingProgress) throws {
        guard let dtype = StoredDType(userName: exportDtype) else { throw ValidationError("--export-dtype must be f32, bf16 or f16") }
        var weights: StateDict = [:]
        for (n, t) in model.stateDict() { weights[n] = t }
        try ModelWriter.saveSafetensors(config: model.config, weights: weights, to: folder, dtype: dtype)
        progress.message("exported \(folder) (config.json + model.safetensors, \(dtype.rawValue))")
    }
}
