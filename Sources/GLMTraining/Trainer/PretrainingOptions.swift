// What a pre-training run can be told (the flags of `glm pretrain`), as a library value.
import GLM
import GLMEngine

/// Everything a pre-training run can be told. Unset (nil) values take the defaults of a new run, or the
/// stored run's values on resume. The options that change the numbers become `SpecEdit`s, so a resumed
/// run refuses any that differ from the checkpointed run.
public struct PretrainingOptions {
    // MARK: model
    /// Published model size (glm-base, glm-large, …); also picks that model's data flags.
    public var preset: String?
    /// A new model's shape.
    public var layers: Int?, hidden: Int?, heads: Int?
    /// Tokens per packed sample (default: the model's max position).
    public var seqLength: Int?
    /// Position-table size (default: `seqLength`, else 512).
    public var maxPosition: Int?
    /// Tokenizer preset recorded in config.json (default: the dataset's).
    public var tokenizer: String?
    /// Initial weights: any model `ModelFiles.load` reads, or a checkpoint folder (its latest checkpoint).
    public var load: String?
    /// Dropout on embeddings and both residual branches, and on attention probabilities.
    public var hiddenDropout: Double?, attentionDropout: Double?
    /// Position tables of a new random model.
    public var positionInit: GLMModel.PositionInitialization = .normal

    // MARK: data
    /// Prepared training dataset folder, and an optional separate validation dataset.
    public var data: String?, validData: String?
    /// Train/valid/test weights over the training dataset's documents (default 949,50,1; with `validData`: 1).
    public var split: [Double]?
    public var objective = BlankInfillingOverrides()

    // MARK: optimizer and schedule (defaults: the original's)
    public var lr: Double?, warmup: Double?, lrDecayStyle: LearningRateSchedule.Style?, lrDecayRatio: Double?
    public var lrDecayIters: Int?
    public var weightDecay: Double?, adamBeta1: Double?, adamBeta2: Double?, adamEps: Double?, clipGrad: Double?

    // MARK: run
    public var batchSize: Int?, gradAccum: Int?
    /// Train until this many optimizer steps in total (required for a new run; resume: the run's target).
    public var steps: Int?
    public var seed: UInt64?
    /// Threads for oneDNN and the kernels (results do not depend on it; nil: all cores).
    public var threads: Int?
    /// GEMM precision of the training steps (`TrainingStep.compute`): fp32 (the library default) or bf16
    /// mixed precision. Not part of the spec: a run may be resumed in the other precision.
    public var compute: GEMMInputType = .float32

    // MARK: validation, checkpoints, logging (nil: 1000, 20, 1000 for a new run; resume: the run's)
    public var evalInterval: Int?, evalIters: Int?, saveInterval: Int?
    /// Checkpoint folder; checkpoints to keep there (0 = all).
    public var save: String?
    public var keep = 3
    /// Continue the run whose latest checkpoint is in `save`.
    public var resume = false
    /// JSON-lines log file.
    public var log: String?

    public init() {}

    /// Every math option that was given, as an edit of the spec (in a fixed order, for messages).
    public func specEdits() throws -> [SpecEdit] {
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
        if let (option, c) = try objective.presetEdit() {
            e.append(SpecEdit(option) { let s = $0.data.seqLength; $0.data = c; $0.data.seqLength = s })
        }
        for (option, apply) in objective.edits { e.append(SpecEdit(option) { apply(&$0.data) }) }
        add("lr", lr) { $0.schedule.peak = $1 }
        add("warmup", warmup) { $0.schedule.warmup = $1 }
        if let lrDecayStyle { e.append(SpecEdit("--lr-decay-style \(lrDecayStyle)") { $0.schedule.style = lrDecayStyle }) }
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
        add("split", split) { $0.split = $1 }
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
}
