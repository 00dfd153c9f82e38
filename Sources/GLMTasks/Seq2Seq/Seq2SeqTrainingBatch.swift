// A batch of seq2seq training samples and the loss `tasks/seq2seq/finetune.py seq2seq_forward_step` takes on it.
import GLM
import GLMEngine

/// Training samples stacked as the original's collate does: each row padded (pad id, loss mask 0, position 0)
/// to the batch's longest sample — every sample of a task has the same length (source padded to
/// `--src-seq-length`, target to `--tgt-seq-length`), so in practice the rows are that fixed length.
public struct Seq2SeqTrainingBatch {
    public let ids: Tensor          // int32 [b, s]
    public let positionIds: Tensor  // int32 [b, 2, s]
    public let mask: GLMMask        // sep per row, or the explicit [b, 1, s, s] mask (--mask-pad-token)
    /// Flattened row·s + t of every loss position, its target and its weight (the loss mask).
    public let lossRows: Tensor
    public let lossTargets: Tensor
    public let lossWeights: Tensor
    public let lossTokens: Int
    public var batchSize: Int { ids.shape[0] }
    public var length: Int { ids.shape[1] }

    /// Rows are padded to the longest sample, or to `minimumLength` when longer (data parallelism: a rank's
    /// share padded as the global batch, so that row-keyed dropout masks line up; padding follows every
    /// real position, which never attends it).
    public init(_ samples: [Seq2SeqSample], pad: Int, minimumLength: Int = 0) throws {
        guard !samples.isEmpty else { throw Seq2SeqError.input("an empty training batch") }
        let b = samples.count, s = max(minimumLength, samples.map(\.ids.count).max()!)
        var ids = [Int32](repeating: Int32(pad), count: b * s)
        var pos = [Int32](repeating: 0, count: b * 2 * s)
        var rows: [Int32] = [], tgts: [Int32] = [], weights: [Float] = []
        var seps: [Int] = []
        var explicit: [Float]? = nil
        for (r, sample) in samples.enumerated() {
            guard let targets = sample.targets, let loss = sample.lossMask else {
                throw Seq2SeqError.input("\(sample.uid): an evaluation sample (no targets) in a training batch")
            }
            let n = sample.ids.count
            guard targets.count == n, loss.count == n, sample.positions.count == 2, sample.positions.allSatisfy({ $0.count == n }) else {
                throw Seq2SeqError.input("\(sample.uid): targets, loss mask and positions must have the sample's \(n) positions")
            }
            for t in 0..<n {
                ids[r * s + t] = Int32(sample.ids[t])
                pos[(r * 2) * s + t] = Int32(sample.positions[0][t])
                pos[(r * 2 + 1) * s + t] = Int32(sample.positions[1][t])
                if loss[t] != 0 { rows.append(Int32(r * s + t)); tgts.append(Int32(targets[t])); weights.append(Float(loss[t])) }
            }
            switch sample.attention {
            case .sep(let sep):
                guard explicit == nil else { throw Seq2SeqError.input("a batch mixes sep and explicit attention masks") }
                seps.append(sep)
            case .explicit(let m):
                guard seps.isEmpty else { throw Seq2SeqError.input("a batch mixes sep and explicit attention masks") }
                if explicit == nil { explicit = [Float](repeating: 0, count: b * s * s) }
                for q in 0..<s {
                    for k in 0..<s {
                        let v: Float = q < n && k < n ? Float(m[q][k]) : (q == k ? 1 : 0)   // padded rows see themselves only
                        explicit![(r * s + q) * s + k] = v
                    }
                }
            }
        }
        self.ids = try Tensor(shape: [b, s], ints: ids)
        positionIds = try Tensor(shape: [b, 2, s], ints: pos)
        mask = explicit.map { .explicit(try! Tensor(shape: [b, 1, s, s], values: $0)) } ?? .sep(seps)
        lossRows = try Tensor(shape: [rows.count], ints: rows)
        lossTargets = try Tensor(shape: [tgts.count], ints: tgts)
        lossWeights = try Tensor(shape: [weights.count], values: weights)
        lossTokens = rows.count
    }
}

extension GLMModel {
    /// `seq2seq_forward_step`'s loss with `--label-smoothing ε`: Σ_i w_i·((1−ε)·ce_i + ε·smooth_i) with
    /// w = loss_mask / Σ loss_mask and smooth_i = −mean_v log_softmax(logits_i)_v. As smooth_i = ce_i +
    /// logit_i[t_i] − mean_v logit_iv, this is the cross-entropy plus ε·Σ_i w_i·(logit_i[t_i] − h_i·w̄)
    /// (w̄ the mean word embedding): no second [tokens × vocabulary] buffer. ε = 0: `seq2seqLoss(_:tape:)`.
    public func seq2seqLoss(_ batch: Seq2SeqTrainingBatch, labelSmoothing epsilon: Double, tape: Tape) throws -> Variable {
        guard epsilon != 0 else { return try seq2seqLoss(batch, tape: tape).loss }
        guard batch.lossTokens > 0 else { throw Seq2SeqError.input("the batch has no target token (loss mask all zero)") }
        let out = try forward(ids: batch.ids, positionIds: batch.positionIds, mask: batch.mask, logits: .none, tape: tape)
        let flat = try tape.reshape(out.hidden, [batch.batchSize * batch.length, config.hiddenSize])
        let picked = try tape.embedding(batch.lossRows, table: flat)
        let logits = try vocabularyLogits(picked, tape: tape)   // model parallel: this rank's vocabulary columns
        let targets = batch.lossTargets.toInts()
        let tgtLogit = try pickVocabularyColumns(logits, indices: targets.map { [Int($0)] }, tape: tape)
        let meanRow = try meanWordEmbedding(tape: tape)                            // [1, h]
        let meanLogit = try tape.matmul(picked, meanRow, transposeB: true)         // [n, 1]
        let ce = try crossEntropy(logits, targets: batch.lossTargets, lossMask: batch.lossWeights, tape: tape)
        let w = batch.lossWeights.toFloats(), total = w.reduce(0, +)
        let shape = ce.loss.value.shape
        let up = try tape.weightedGather(tgtLogit, terms: [w.enumerated().map { ($0.offset, epsilon * Double($0.element) / Double(total)) }], shape: shape)
        let down = try tape.weightedGather(meanLogit, terms: [w.enumerated().map { ($0.offset, -epsilon * Double($0.element) / Double(total)) }], shape: shape)
        return try tape.add(try tape.add(ce.loss, up), down)
    }

    /// `seq2seq_forward_step` without label smoothing: Σ ce·loss_mask / Σ loss_mask over the batch's target
    /// tokens, computed as `blankInfillingLoss` does (vocabulary logits only at the loss positions, the
    /// trainer's fused cross-entropy op; vocabulary-parallel when the model is split).
    public func seq2seqLoss(_ batch: Seq2SeqTrainingBatch, tape: Tape) throws -> CrossEntropyResult {
        guard batch.lossTokens > 0 else { throw Seq2SeqError.input("the batch has no target token (loss mask all zero)") }
        let out = try forward(ids: batch.ids, positionIds: batch.positionIds, mask: batch.mask, logits: .none, tape: tape)
        let flat = try tape.reshape(out.hidden, [batch.batchSize * batch.length, config.hiddenSize])
        let picked = try tape.embedding(batch.lossRows, table: flat)
        let logits = try vocabularyLogits(picked, tape: tape)
        return try crossEntropy(logits, targets: batch.lossTargets, lossMask: batch.lossWeights, tape: tape)
    }
}
