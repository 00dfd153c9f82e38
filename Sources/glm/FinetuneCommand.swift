import ArgumentParser
import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTasks
import GLMTraining

/// `glm finetune`: SuperGLUE fine-tuning as the original's `scripts/finetune_superglue.sh` with the task's
/// `config_tasks/task_*.sh`. The work is done by `SuperGLUEFinetuner` (GLMTasks); this file turns flags
/// into options, shows progress on stderr, writes the log and the model folder, and prints the result.
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Fine-tune a model on a SuperGLUE or seq2seq task (as the original's scripts/finetune_superglue.sh, finetune_seq2seq.sh).",
        discussion: """
            glm finetune --task copa|wsc|rte|wic|cb|multirc|boolq|record --data DIR --save OUT [--model M] \
            reads DIR/train.jsonl and DIR/val.jsonl (the official layout), encodes them with the task's \
            pattern-verbalizer pair (--config, --pattern-id, --seq-length as glm evaluate), and trains the cloze \
            model: --epochs over the train split in a seeded order, --batch-size samples per micro-batch, \
            --grad-accum micro-batches per step, AdamW (betas 0.9/0.98, eps 1e-6, --weight-decay except biases and \
            LayerNorm, clipping at --clip-grad) at --lr with --warmup (a fraction of all steps) and linear decay \
            (--lr-decay-style). After every epoch (every --eval-epochs N-th and the last) DIR/val.jsonl is evaluated; the epoch with the best first metric \
            (the original's main metric) is kept and written to OUT as a model folder (config.json + \
            model.safetensors) that glm evaluate and glm generate load. Defaults: the config's (lr 1e-5, warmup \
            0.1, weight decay 0.1, batch 16 (MultiRC, ReCoRD: 64), the task's epochs). --epochs 0 evaluates only. \
            Progress goes to stderr, --log FILE gets one JSON line per step and per epoch, and stdout gets one line: \
            {"task", "best_epoch", "metrics": {...}}. Dropout is the model config's. After every epoch the run's state \
            is saved to OUT.checkpoint (removed at the end); --resume continues from it with the same numbers as an \
            uninterrupted run (the same flags are required; under mpirun, any number of ranks with the same global batch). \
            SIGINT/SIGTERM finish the current step, save its position to OUT.checkpoint and stop (a second signal exits at once). \
            Seq2seq tasks (cnn_dm_original, cnn_dm, xsum, gigaword, customization, blank) read DIR/train.* and DIR/val.* \
            and train with the config_tasks/seq_*.sh settings (--src-seq-length, --tgt-seq-length, --label-smoothing 0.1); \
            epochs are kept by dev ROUGE-1 (--eval-metric rouge, beam search with --num-beams) or dev loss (--eval-metric loss). \
            Under mpirun -np N: data parallel (--batch-size per rank, --zero-stage 1), and with --model-parallel-size M tensor \
            model parallel (N/M data-parallel groups of M ranks, --batch-size per group; not with continuous prompts); the \
            saved model is the merged one.
            """)

    @Option(name: .customLong("task"), help: "The SuperGLUE or seq2seq task.") var taskName: FinetuneTaskName
    var task: SuperGLUETask { taskName.superglue }
    @OptionGroup var seq2seqFlags: Seq2SeqFinetuneFlags
    @Option(help: "The data folder (train.jsonl, val.jsonl).") var data: String
    @Option(help: "Model folder or weights file (any layout glm convert reads). Default: the built-in model.")
    var model: String?
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Where to write the fine-tuned model folder (replaced atomically at the end).") var save: String
    @Option(help: "The settings of glm-large (config_tasks/task_*.sh, default) or glm-10b (scripts/ds_finetune_superglue.sh).")
    var config: SuperGLUEConfig?
    @Option(help: "Epochs (default: the task's, e.g. 50 for COPA/RTE/CB/WSC with glm-large); 0 = evaluate only.") var epochs: Int?
    @Option(help: "Samples per micro-batch (default 16; MultiRC and ReCoRD 64).") var batchSize: Int?
    @Option(help: "Peak learning rate (default 1e-5).") var lr: Double?
    @Option(help: "Warm-up as a fraction of all training steps (default 0.1).") var warmup: Double?
    @Option(help: "AdamW weight decay, not on biases and LayerNorm (default 0.1).") var weightDecay: Double?
    @Option(help: "constant, linear or cosine (default linear).") var lrDecayStyle: String?
    @Option(help: "Gradient-norm clipping, 0 = off (default 1.0).") var clipGrad: Double?
    @Option(name: .customLong("seq-length"), help: "Sample length (default: the config's).") var seqLength: Int?
    @Option(name: .customLong("pattern-id"), help: "The pattern of the task's PVP (default: the config's).") var patternId: Int?
    @Option(name: [.customLong("grad-accum"), .customLong("gradient-accumulation-steps")],
            help: "Micro-batches per optimizer step (default 1).") var gradAccum: Int?
    @Option(help: "Seed of the train order and the dropout streams (default 1234).") var seed: UInt64?
    @Option(help: "Evaluation batch size (default 16).") var evalBatchSize: Int?
    @Option(name: .customLong("eval-epochs"),
            help: "Evaluate dev (and choose the best epoch) after every N-th epoch and after the last (default 1: every epoch).")
    var evalEpochs: Int?
    @Option(help: "JSON-lines log file (one record per step and per epoch).") var log: String?
    @Option(help: "Threads for oneDNN and the kernels (default: all cores).") var threads: Int?
    @Option(help: "GEMM precision of the training steps: fp32, bf16 (mixed precision) or auto (bf16 where native and measured faster here).")
    var dtype: ComputeDType = .auto
    @Flag(help: "Continue the run whose end-of-epoch checkpoint is in OUT.checkpoint (the same flags; the numbers equal an uninterrupted run).")
    var resume = false
    @Flag(help: "P-tuning: the pattern's prompt placeholders become --num-prompt-tokens trained prompt tokens (every task but ReCoRD); the prompt encoder is saved as OUT/prompt_spell.safetensors.")
    var continuousPrompt = false
    @Option(help: "Prompt tokens with --continuous-prompt (default 0).") var numPromptTokens: Int?
    @Option(help: "Prompt tokens before part A (the original's --prefix-prompt; default 0).") var prefixPrompt: Int?
    @Option(help: "Prompt encoder head: lstm (bidirectional 2-layer LSTM + MLP), mlp or none (default lstm, as the original).") var promptFunc: String?
    @Flag(help: "Train only the prompt encoder: no gradients and no updates for the model's parameters.")
    var freezeTransformer = false
    /// `mpirun -np N glm finetune …`: data parallel, --batch-size per rank (see `SuperGLUEFinetuner.dataParallel`);
    /// with --model-parallel-size M also tensor model parallel (`FinetuneModelParallel.swift`).
    @OptionGroup var distributed: DistributedOptions

    func validate() throws {
        if let t = threads, t < 1 { throw ValidationError("--threads must be ≥ 1") }
        if let k = patternId, case .superglue = taskName, !task.patternIds.contains(k) {
            throw ValidationError("--pattern-id \(k): \(task.rawValue) has patterns \(task.patternIds.map(String.init).joined(separator: ", "))")
        }
    }

    /// `defaults` with the schedule flags given on the command line (shared by every task kind).
    func scheduleOverrides(_ defaults: FinetuneOptions) throws -> FinetuneOptions {
        var o = defaults
        if let epochs { o.epochs = epochs }
        if let batchSize { o.batchSize = batchSize }
        if let lr { o.learningRate = lr }
        if let warmup { o.warmup = warmup }
        if let weightDecay { o.weightDecay = weightDecay }
        if let clipGrad { o.clipGrad = clipGrad }
        if let gradAccum { o.gradientAccumulation = gradAccum }
        if let seed { o.seed = seed }
        if let evalBatchSize { o.evalBatchSize = evalBatchSize }
        if let evalEpochs { o.evalEpochs = evalEpochs }
        if let style = lrDecayStyle {
            guard let s = LearningRateSchedule.Style(rawValue: style) else {
                throw ValidationError("--lr-decay-style must be constant, linear, cosine or exponential, got \(style)")
            }
            o.decayStyle = s
        }
        return o
    }

    func options() throws -> FinetuneOptions {
        var o = try scheduleOverrides(FinetuneOptions.defaults(for: task, tenB: config == .glm10B))
        o.continuousPrompt = continuousPrompt
        o.numPromptTokens = numPromptTokens ?? 0
        o.prefixPrompt = prefixPrompt ?? 0
        o.freezeTransformer = freezeTransformer
        if let f = promptFunc {
            guard let pf = PromptFunction(rawValue: f) else { throw ValidationError("--prompt-func must be lstm, mlp or none, got \(f)") }
            o.promptFunc = pf
        }
        try o.validate()
        return o
    }

    func run() throws {
        let job = try distributed.job()
        try checkModelParallelSupport(job)
        try runAsRank {
            if case .seq2seq(let kind) = taskName { return try runSeq2Seq(kind, job) }
            try runSuperGLUE(job)
        }
    }

    /// One process, or one rank of `mpirun`: every rank trains; rank 0 alone evaluates dev, prints, writes
    /// --log, the checkpoint and the model folder (with --model-parallel-size M, ranks 0 ..< M evaluate
    /// together and global rank 0 writes).
    func runSuperGLUE(_ job: DistributedJob?) throws {
        let isRoot = job?.isRoot ?? true, dp = job?.dataParallel
        let opts = try options()
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        var settings = config == .glm10B ? SuperGLUESettings.glm10B(task) : SuperGLUESettings.glmLarge(task)
        if let patternId { settings.patternId = patternId }
        if let seqLength { settings.seqLength = seqLength }
        settings.continuousPrompt = opts.continuousPrompt
        settings.numPromptTokens = opts.numPromptTokens
        settings.prefixPrompt = opts.prefixPrompt
        let (rankModel, tokenizer) = try loadRankModel(job)
        let train = try SuperGLUEDataset(settings: settings, split: .train, folder: data, tokenizer: tokenizer)
        let dev = try SuperGLUEDataset(settings: settings, split: .dev, folder: data, tokenizer: tokenizer)
        let finetuner = try SuperGLUEFinetuner(model: rankModel, train: train, dev: dev, options: opts, dataParallel: dp)
        let (checkpoint, progress) = try FinetuneProgress.start(save: save, resume: resume, log: log, isRoot: isRoot)
        func say(_ s: String) { progress.say(s) }
        finetuner.stepper.compute = try rankZeroCompute(try dtype.resolve(say: say), job)
        if let line = parallelDescription(job, batchSize: opts.batchSize) { say(line) }
        say("glm finetune \(task.rawValue): \(train.samples.count) train / \(dev.samples.count) dev samples, \(opts.epochs) epoch(s) × "
            + "\(finetuner.stepsPerEpoch) step(s) of \(finetuner.samplesPerStep) sample(s), lr \(opts.learningRate), \(Runtime.threads) thread(s)")
        let stop = stopSignal(isRoot: isRoot)
        let result = try finetuner.run(checkpoint: opts.epochs > 0 ? checkpoint : nil, resume: resume, report: { progress.handle($0) },
                                       stop: { stop.isRequested })
        if let step = result.stoppedAfterStep { return say(stoppedMessage(step: step, checkpoint: checkpoint)) }
        guard let merged = try modelToSave(rankModel, job) else { return }
        try SuperGLUEFinetuner.save(merged, to: save, tokenizer: modelOptions.tokenizer ?? settings.tokenizer.name)
        if let prompts = finetuner.promptEncoder {
            try PromptEncoderFile.save(prompts, continuousPrompt: opts.continuousPrompt, numPromptTokens: opts.numPromptTokens,
                                       prefixPrompt: opts.prefixPrompt, folder: save)
        }
        try? FileManager.default.removeItem(atPath: checkpoint)
        say("wrote \(save) (best epoch \(result.bestEpoch))")
        let metrics = result.metrics.map { "\(jsonString($0.name)): \($0.value)" }.joined(separator: ", ")
        print("{\"task\": \(jsonString(task.rawValue)), \"best_epoch\": \(result.bestEpoch), \"metrics\": {\(metrics)}}")
    }

    /// SIGINT/SIGTERM: the run finishes the step it is in, writes a checkpoint of that position, and stops
    /// (exit 0); a second signal exits at once (the last checkpoint is intact).
    func stopSignal(isRoot: Bool) -> StopSignal {
        StopSignal { sig in
            if isRoot {
                FileHandle.standardError.write(Data("\n\(sig == SIGINT ? "SIGINT" : "SIGTERM"): finishing this step, then saving and stopping (signal again to exit at once)\n".utf8))
            }
        }
    }

    func stoppedMessage(step: Int, checkpoint: String) -> String {
        "stopped after step \(step), saved to \(checkpoint); continue with the same command plus --resume (under mpirun: any number of ranks with the same global batch)"
    }

    func jsonString(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out += c.value < 0x20 ? String(format: "\\u%04x", c.value) : String(c)
            }
        }
        return out + "\""
    }
}

extension SuperGLUETask: ExpressibleByArgument {}
