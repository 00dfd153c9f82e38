// Everything that decides the numbers a training run produces, stored in every checkpoint so that
// `--resume` continues the same run and refuses options that would silently change it.
import Foundation
import GLM

/// AdamW and clipping settings. Defaults: the published GLM configs (`config/config_block_*.json`:
/// betas 0.9/0.98, eps 1e-6, weight decay 0.1; `--clip-grad 1.0`).
public struct OptimizerSpec: Codable, Sendable, Equatable {
    public var beta1 = 0.9
    public var beta2 = 0.98
    public var eps = 1e-6
    public var weightDecay = 0.1
    /// Global gradient-norm clipping (0 disables it).
    public var clipGrad = 1.0

    public init() {}

    public func validate() throws {
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else {
            throw TrainingError.invalidOption("--adam-beta1/--adam-beta2 must be in [0, 1), got \(beta1), \(beta2)")
        }
        guard eps > 0 else { throw TrainingError.invalidOption("--adam-eps must be > 0, got \(eps)") }
        guard weightDecay >= 0 else { throw TrainingError.invalidOption("--weight-decay must be ≥ 0, got \(weightDecay)") }
        guard clipGrad >= 0 else { throw TrainingError.invalidOption("--clip-grad must be ≥ 0 (0 = off), got \(clipGrad)") }
    }
}

/// A prepared dataset as a run saw it: its folder and the fingerprint of the job that made it.
public struct DataIdentity: Codable, Sendable, Equatable {
    public var directory: String
    public var fingerprint: String
    public var tokens: Int
    public var documents: Int

    public init(directory: String, fingerprint: String, tokens: Int, documents: Int) {
        self.directory = directory; self.fingerprint = fingerprint; self.tokens = tokens; self.documents = documents
    }
}

/// The definition of a run. Two runs with equal specs produce the same losses, bit for bit, whatever the
/// thread count and however often they are interrupted and resumed.
public struct TrainingSpec: Codable, Sendable, Equatable {
    public var model: GLMConfig
    public var data: BlankInfillingConfig
    /// Seeds sample packing, span sampling and dropout (each from its own derived stream).
    public var seed: UInt64
    /// Samples per micro-batch (`--batch-size`).
    public var batchSize: Int
    /// Micro-batches per optimizer step (`--grad-accum`).
    public var gradientAccumulation: Int
    public var schedule: LearningRateSchedule
    public var optimizer: OptimizerSpec
    /// `--split` weights (train, valid, test) over the training dataset's documents; ignored parts are empty.
    public var split: [Double]
    public var trainData: DataIdentity
    /// A separate validation dataset (`--valid-data`); nil: the split's second part.
    public var validData: DataIdentity?
    /// Where the initial weights came from ("random" or the `--load` path), for the record.
    public var initialization: String

    public init(model: GLMConfig, data: BlankInfillingConfig, seed: UInt64, batchSize: Int, gradientAccumulation: Int,
                schedule: LearningRateSchedule, optimizer: OptimizerSpec, split: [Double], trainData: DataIdentity,
                validData: DataIdentity?, initialization: String) {
        self.model = model; self.data = data; self.seed = seed; self.batchSize = batchSize
        self.gradientAccumulation = gradientAccumulation; self.schedule = schedule; self.optimizer = optimizer
        self.split = split; self.trainData = trainData; self.validData = validData; self.initialization = initialization
    }

    public func validate() throws {
        try model.validate(file: "model configuration")
        guard batchSize >= 1 else { throw TrainingError.invalidOption("--batch-size must be ≥ 1, got \(batchSize)") }
        guard gradientAccumulation >= 1 else {
            throw TrainingError.invalidOption("--grad-accum must be ≥ 1, got \(gradientAccumulation)")
        }
        try schedule.validate()
        try optimizer.validate()
        guard data.seqLength <= model.maxSequenceLength else {
            throw TrainingError.invalidOption("--seq-length \(data.seqLength) exceeds the model's max position \(model.maxSequenceLength) (--max-position)")
        }
        for (name, p) in [("hidden", model.outputDropoutProb), ("embedding", model.embeddingDropoutProb),
                          ("attention", model.attentionDropoutProb)] where !(p >= 0 && p < 1) {
            throw TrainingError.invalidOption("\(name) dropout must be in [0, 1), got \(p)")
        }
    }

    /// Compact JSON (sorted keys) of the spec: what the checkpoint stores and resume compares.
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}
