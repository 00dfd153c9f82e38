// The workload of bench/README.md (the same as the PyTorch baseline's), shared by `glm bench train`,
// `glm bench forward` and `glm bench profile` so that their numbers describe the same work.
import GLMEngine
import GLM
import GLMTraining

/// The random model and the random batch of the benchmark recipe.
public enum RecipeWorkload {
    /// A GLM with the original's initialisation from `seed` and no dropout (dropout would make the
    /// timed work depend on random draws).
    public static func model(layers: Int, hidden: Int, heads: Int, vocab: Int, seqLength: Int,
                             checkpointActivations: Bool = false, seed: UInt64) throws -> GLMModel {
        var config = GLMConfig(numLayers: layers, hiddenSize: hidden, numAttentionHeads: heads, vocabSize: vocab,
                               maxSequenceLength: seqLength)
        config.embeddingDropoutProb = 0; config.outputDropoutProb = 0; config.attentionDropoutProb = 0
        config.checkpointActivations = checkpointActivations
        return try GLMModel.random(config: config, seed: seed)
    }

    /// ONE batch, reused every step (`ModelBatch.benchmarkRecipe`: sep = S/2, ids and targets uniform in
    /// [0, V), loss mask on part B).
    public static func batch(batchSize: Int, seqLength: Int, vocab: Int, seed: UInt64) throws -> ModelBatch {
        try ModelBatch.benchmarkRecipe(batchSize: batchSize, seqLength: seqLength, vocab: vocab, seed: seed)
    }
}

/// Middle value of `xs` (mean of the two middle ones for an even count; NaN when empty).
public func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
