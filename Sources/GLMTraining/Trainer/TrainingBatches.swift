// Where a run's batches come from: the training and validation batchers over prepared datasets, and
// the conversion of a blank-infilling batch into model inputs.
import GLMEngine
import Foundation

/// The batchers of a run. Micro-batch `k` of training is `train.batch(k, size: batchSize)`: a pure
/// function of the data, the spec and `k`, so the data position of a run is just the number of
/// micro-batches consumed (`step × gradientAccumulation`), and resuming needs no iterator state.
public struct TrainingBatches: Sendable {
    public let train: BlankInfillingBatcher
    /// Validation batches are `valid.batch(i, size: batchSize)` for i in 0..<evalIters: the SAME batches
    /// at every evaluation, so validation losses of different steps compare like with like.
    public let valid: BlankInfillingBatcher?
    public let batchSize: Int

    public init(train: BlankInfillingBatcher, valid: BlankInfillingBatcher?, batchSize: Int) {
        self.train = train; self.valid = valid; self.batchSize = batchSize
    }

    /// Batchers over in-memory or mapped documents: `trainDocuments` of `store` for training and, when
    /// given, `validDocuments` of `validStore` for validation. The validation stream uses a seed derived
    /// from the run seed so that it never replays training samples' random choices.
    public init(store: any DocumentStore, trainDocuments: [Int]?, validStore: (any DocumentStore)?, validDocuments: [Int]?,
                commands: CommandTokenIDs, spec: TrainingSpec) throws {
        let source = try PackedSampleSource(store: store, documents: trainDocuments, config: spec.data, commands: commands, seed: spec.seed)
        let train = try BlankInfillingBatcher(source: source, config: spec.data, seed: spec.seed)
        var valid: BlankInfillingBatcher?
        if let validStore {
            let vseed = spec.seed ^ 0x5641_4C49_4400_0000   // "VALID"
            let vsource = try PackedSampleSource(store: validStore, documents: validDocuments, config: spec.data,
                                                 commands: commands, seed: vseed)
            valid = try BlankInfillingBatcher(source: vsource, config: spec.data, seed: vseed)
        }
        self.init(train: train, valid: valid, batchSize: spec.batchSize)
    }

    /// Opens the spec's prepared datasets, checks they are the ones the spec was made with, and splits
    /// the training dataset's documents by `spec.split` (train = part 0, valid = part 1 unless
    /// `spec.validData` names a separate dataset).
    public static func open(spec: TrainingSpec) throws -> (batches: TrainingBatches, trainDocuments: Int, validDocuments: Int) {
        let trainSet = try openChecked(spec.trainData, role: "training")
        let parts = DocumentSplit.split(documentCount: trainSet.documentCount, weights: spec.split)
        guard let trainDocs = parts.first, !trainDocs.isEmpty else {
            throw TrainingError.data("the split \(spec.split) leaves no training documents out of \(trainSet.documentCount)")
        }
        var validStore: (any DocumentStore)?
        var validDocs: [Int]?
        if let v = spec.validData {
            let validSet = try openChecked(v, role: "validation")
            guard validSet.meta.tokenizer.vocabularyFingerprint == trainSet.meta.tokenizer.vocabularyFingerprint else {
                throw TrainingError.data("\(v.directory) was tokenized with \(validSet.meta.tokenizer.preset), the training data with \(trainSet.meta.tokenizer.preset)")
            }
            validStore = validSet
        } else if parts.count > 1, !parts[1].isEmpty {
            validStore = trainSet
            validDocs = parts[1]
        }
        let batches = try TrainingBatches(store: trainSet, trainDocuments: trainDocs, validStore: validStore,
                                          validDocuments: validDocs, commands: trainSet.commandTokens, spec: spec)
        let validCount = validDocs?.count ?? (validStore?.documentCount ?? 0)
        return (batches, trainDocs.count, validCount)
    }

    static func openChecked(_ identity: DataIdentity, role: String) throws -> TokenDataset {
        let ds = try TokenDataset(directory: identity.directory)
        guard ds.meta.jobFingerprint == identity.fingerprint else {
            throw TrainingError.data("the \(role) dataset \(identity.directory) is not the one this run was started with (fingerprint \(ds.meta.jobFingerprint), expected \(identity.fingerprint))")
        }
        return ds
    }

    /// The identity of a prepared dataset folder (its path made absolute, so that a run can be resumed
    /// from any working directory).
    public static func identity(of directory: String) throws -> (DataIdentity, TokenDataset) {
        let ds = try TokenDataset(directory: directory)
        let absolute = directory.hasPrefix("/") ? directory
            : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(directory).standardizedFileURL.path
        return (DataIdentity(directory: absolute, fingerprint: ds.meta.jobFingerprint, tokens: ds.tokenCount,
                             documents: ds.documentCount), ds)
    }
}

/// A blank-infilling batch as model inputs, plus the loss positions gathered once.
///
/// WHY gather: the loss covers only part B (≈ 15 % of the positions in the bert objective), so the
/// trainer computes vocabulary logits only at the loss positions (`lossRows`) instead of at every
/// position. The V × h logits product dominates small models; the loss and gradients are the same
/// (positions with mask 0 contribute nothing), see `LossPositionsTests`.
public struct ModelBatch {
    public let ids: Tensor          // int32 [b, s]
    public let positionIds: Tensor  // int32 [b, 2, s]
    public let targets: Tensor      // int32 [b, s]
    public let lossMask: Tensor     // float32 [b, s]
    public let seps: [Int]
    /// Flat indices (row·s + column) of the positions with a non-zero loss mask, ascending.
    public let lossRows: Tensor     // int32 [n]
    public let lossTargets: Tensor  // int32 [n]
    public let lossWeights: Tensor  // float32 [n]
    /// Tokens of the unpadded rows (what tokens/s counts) and loss-bearing positions.
    public let tokens: Int
    public let lossTokens: Int
    public var batchSize: Int { ids.shape[0] }
    public var length: Int { ids.shape[1] }

    public init(_ batch: BlockBatch) throws {
        let b = batch.batchSize, s = batch.length
        ids = try Tensor(shape: [b, s], ints: batch.tokens)
        positionIds = try Tensor(shape: [b, 2, s], ints: batch.positionIDs)
        targets = try Tensor(shape: [b, s], ints: batch.targets)
        lossMask = try Tensor(shape: [b, s], values: batch.lossMask.map(Float.init))
        seps = batch.sep.map(Int.init)
        var rows: [Int32] = [], tgts: [Int32] = [], weights: [Float] = []
        for (i, m) in batch.lossMask.enumerated() where m != 0 {
            rows.append(Int32(i)); tgts.append(batch.targets[i]); weights.append(Float(m))
        }
        lossRows = try Tensor(shape: [rows.count], ints: rows)
        lossTargets = try Tensor(shape: [tgts.count], ints: tgts)
        lossWeights = try Tensor(shape: [weights.count], values: weights)
        tokens = batch.rows.reduce(0) { $0 + $1.count }
        lossTokens = rows.count
    }
}
