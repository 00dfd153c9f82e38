// Reading chosen vocabulary columns of the output logits, one process or split over a model-parallel group
// (the cloze scores and the seq2seq label smoothing of fine-tuning).
import GLMEngine

extension GLMModel {
    /// `Tape.pickColumns` on logits from `vocabularyLogits`: with model parallelism those are this rank's
    /// vocabulary columns, and the picks (and the log-Σ-exp of `logSoftmax`) are assembled over the group
    /// (`vocabParallelPickColumns`), giving every rank what one process computes from whole rows.
    public func pickVocabularyColumns(_ logits: Variable, indices: [[Int]], logSoftmax: Bool = false, tape: Tape) throws -> Variable {
        guard let group = modelParallel else { return try tape.pickColumns(logits, indices: indices, logSoftmax: logSoftmax) }
        return try tape.vocabParallelPickColumns(logits, indices: indices, logSoftmax: logSoftmax, group: group)
    }

    /// The mean over the whole vocabulary of the word-embedding rows, [1, hidden]: (1/V)·Σ_v E_v. With model
    /// parallelism each rank sums its rows and the group adds the partial means (backward: each rank's
    /// rows get the whole gradient, as one process's). Label smoothing's mean logit is hidden · thisᵀ.
    public func meanWordEmbedding(tape: Tape) throws -> Variable {
        let weight = word_embeddings.weight
        let rows = weight.value.shape[0], vocab = rows * (modelParallel?.size ?? 1)
        let uniform = Variable(try Tensor(shape: [1, rows], values: [Float](repeating: 1 / Float(vocab), count: rows)))
        let partial = try tape.matmul(uniform, weight)
        guard let group = modelParallel else { return partial }
        return try tape.reduceFromModelParallelRegion(partial, group: group)
    }
}
