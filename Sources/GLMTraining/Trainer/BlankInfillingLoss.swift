import GLMEngine
import GLM

extension GLMModel {
    /// The pre-training loss of `pretrain_glm.py forward_step`: Σ ce·mask / Σ mask over the batch, with
    /// vocabulary logits computed only at the loss positions (`ModelBatch.lossRows`): the hidden states of
    /// those positions are gathered (an embedding lookup into the [b·s, h] hidden matrix, whose backward
    /// scatter-adds the gradient back) and multiplied by the tied word embeddings.
    public func blankInfillingLoss(_ batch: ModelBatch, tape: Tape) throws -> CrossEntropyResult {
        guard batch.lossTokens > 0 else {
            throw GLMError.badInput("the batch has no loss-bearing position (loss mask all zero)")
        }
        let out = try forward(ids: batch.ids, positionIds: batch.positionIds, mask: .sep(batch.seps), logits: .none, tape: tape)
        let flat = try tape.reshape(out.hidden, [batch.batchSize * batch.length, config.hiddenSize])
        let picked = try tape.embedding(batch.lossRows, table: flat)
        // Model parallel: this rank's vocabulary columns and the vocabulary-parallel cross-entropy.
        let logits = try vocabularyLogits(picked, tape: tape)
        return try crossEntropy(logits, targets: batch.lossTargets, lossMask: batch.lossWeights, tape: tape)
    }

    /// The same loss computed the plain way (logits at every position, then the masked mean): the
    /// reference `blankInfillingLoss` is tested against, and what the benchmark recipe prescribes.
    public func blankInfillingLossFullLogits(_ batch: ModelBatch, tape: Tape) throws -> CrossEntropyResult {
        let out = try forward(ids: batch.ids, positionIds: batch.positionIds, mask: .sep(batch.seps), logits: .all, tape: tape)
        return try tape.crossEntropy(out.logits!, targets: batch.targets, lossMask: batch.lossMask)
    }
}
