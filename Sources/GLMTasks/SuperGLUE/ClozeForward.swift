import Foundation
import GLM
import GLMEngine

/// One input row of a cloze model and the positions whose logits it needs.
struct ClozeForwardRow {
    var ids: [Int]
    var positions: [Int]
    var blockPositions: [Int]
    /// Positions below `sep` attend to each other bidirectionally; later positions causally.
    var sep: Int
    /// Positions whose final hidden state is projected onto the full vocabulary, in order.
    var picks: [Int]
    /// Continuous prompts: the positions whose word embeddings become the prompt encoder's rows 0, 1, …
    /// (in order); empty without continuous prompts.
    var promptPositions: [Int] = []

    /// The forward pass runs over the first `length` positions only. Positions below `sep` see exactly
    /// the positions below `sep`, a later position t sees positions ≤ t, so every picked position sees
    /// the same keys as in the padded row and its logits do not change.
    var length: Int { max(sep, (picks.max() ?? -1) + 1) }
}

/// The scoring core of both cloze models (`GLMForMultiTokenCloze`, `GLMForSingleTokenCloze`) and of
/// zero-shot multiple choice: one batched forward pass, then the vocabulary projection only at the
/// picked positions.
enum ClozeForward {
    /// Logits [Σ picks, V] (full padded vocabulary) at every row's picks: rows in order, picks in order.
    /// A model split over a model-parallel group gives this rank's vocabulary columns [Σ picks, V/M]
    /// (`GLMModel.vocabularyLogits`); read them with `GLMModel.pickVocabularyColumns`.
    /// Rows are trimmed to `length` and padded to the longest with id 0 (never attended by a pick).
    /// On a recording tape the result is differentiable with respect to the model's parameters.
    /// With `prompts`, each row's `promptPositions` take the encoded prompt rows (`GLMModel.forward`'s
    /// `inputEmbeddings`); every row must then have exactly `prompts.length` of them.
    /// `minimumLength` pads further (data parallelism: a rank's rows padded as the global batch's, so that
    /// row-keyed dropout masks line up with one process's; the picks' logits do not depend on padding).
    static func pickedLogits(model: GLMModel, rows: [ClozeForwardRow], prompts: PromptEncoder? = nil, minimumLength: Int = 0,
                             tape: Tape) throws -> Variable {
        let b = rows.count
        let s = max(minimumLength, rows.map(\.length).max() ?? 0)
        let v = model.config.vocabSize
        var ids = [Int32](repeating: 0, count: b * s)
        var pos = [Int32](repeating: 0, count: b * 2 * s)
        var picked: [Int32] = []
        for (r, row) in rows.enumerated() {
            guard row.ids.count >= row.length, row.positions.count >= row.length, row.blockPositions.count >= row.length else {
                throw GLMError.badInput("cloze row \(r): \(row.ids.count) ids, \(row.positions.count) positions, \(row.blockPositions.count) block positions for a scored length of \(row.length)")
            }
            guard row.sep >= 0, row.picks.allSatisfy({ $0 >= 0 }) else { throw GLMError.badInput("cloze row \(r): negative sep or position") }
            for t in 0..<row.length {
                guard (0..<v).contains(row.ids[t]) else { throw GLMError.badInput("cloze row \(r): id \(row.ids[t]) at \(t) is outside the vocabulary of \(v)") }
                ids[r * s + t] = Int32(row.ids[t])
                pos[r * 2 * s + t] = Int32(row.positions[t])
                pos[r * 2 * s + s + t] = Int32(row.blockPositions[t])
            }
            for p in row.picks { picked.append(Int32(r * s + p)) }
        }
        guard b > 0, s > 0, !picked.isEmpty else { throw GLMError.badInput("cloze forward: nothing to score") }
        var override: InputEmbeddingOverride? = nil
        if let prompts {
            var flat: [Int] = [], source: [Int] = []
            for (r, row) in rows.enumerated() {
                guard row.promptPositions.count == prompts.length, row.promptPositions.allSatisfy({ (0..<row.length).contains($0) }) else {
                    throw GLMError.badInput("cloze row \(r): \(row.promptPositions.count) prompt positions \(row.promptPositions) for \(prompts.length) prompt tokens in a row of \(row.length)")
                }
                flat += row.promptPositions.map { r * s + $0 }
                source += Array(0..<prompts.length)
            }
            override = InputEmbeddingOverride(rows: flat, source: try prompts.encode(tape: tape), sourceRows: source)
        } else if rows.contains(where: { !$0.promptPositions.isEmpty }) {
            throw GLMError.badInput("cloze rows have continuous-prompt positions but no prompt encoder was given")
        }
        let o = try model.forward(ids: try Tensor(shape: [b, s], ints: ids), positionIds: try Tensor(shape: [b, 2, s], ints: pos),
                                  mask: .sep(rows.map(\.sep)), logits: .none, inputEmbeddings: override, tape: tape)
        let flat = try tape.reshape(o.hidden, [b * s, model.config.hiddenSize])
        let hidden = try tape.embedding(try Tensor(shape: [picked.count], ints: picked), table: flat)
        return try model.vocabularyLogits(hidden, tape: tape)
    }

    /// log_softmax(row)[target] in float64 (the original's float32 differs by ~1e-6).
    static func logSoftmax(_ row: UnsafeBufferPointer<Float>, at target: Int) -> Double {
        var m = -Double.infinity
        for x in row { m = max(m, Double(x)) }
        var z = 0.0
        for x in row { z += exp(Double(x) - m) }
        return Double(row[target]) - m - log(z)
    }
}

/// Reads the scores' columns from `ClozeForward.pickedLogits`' rows: whole rows in one process (float64
/// log-softmax, `ClozeForward.logSoftmax`), or with a model split over a model-parallel group the picks
/// and log-Σ-exp assembled from every rank's vocabulary columns (`VocabParallelPicks`, a collective: every
/// rank of the group scores the same samples). The two agree to float64 summation order.
struct ClozeLogitsReader {
    private let whole: [Float]
    private let vocabulary: Int
    private let columns: [[Int]]
    private let split: VocabParallelPicks?

    /// `columns[k]`: the vocabulary columns row k of `logits` will be asked for.
    init(_ logits: Tensor, columns: [[Int]], model: GLMModel) throws {
        self.columns = columns
        if let group = model.modelParallel {
            split = try VocabParallelPicks.gather(logits, columns: columns, logSumExp: true, group: group)
            whole = []
            vocabulary = 0
        } else {
            split = nil
            whole = logits.toFloats()
            vocabulary = logits.shape.last ?? 0
        }
    }

    /// Row k's logit at its `pick`-th column, or its log-softmax there.
    func value(row k: Int, pick: Int, logSoftmax: Bool) -> Double {
        if let split { return split.values[k][pick] - (logSoftmax ? split.logSumExp[k] : 0) }
        let column = columns[k][pick], v = vocabulary
        return whole.withUnsafeBufferPointer { all in
            let row = UnsafeBufferPointer(rebasing: all[(k * v)..<((k + 1) * v)])
            return logSoftmax ? ClozeForward.logSoftmax(row, at: column) : Double(row[column])
        }
    }
}
