// TEMPORARY (model worktree only): replaced by the checkpoint branch's GLMConfig at merge.
public struct GLMConfig: Sendable {
    public var numLayers: Int
    public var hiddenSize: Int
    public var numAttentionHeads: Int
    public var vocabSize: Int
    public var maxSequenceLength: Int
    public var intermediateSize: Int { 4 * hiddenSize }
    public var blockPositionEncoding = true
    public var embeddingDropout: Float = 0
    public var attentionDropout: Float = 0
    public var outputDropout: Float = 0
    public var layerNormEps: Float = 1e-5
    public init(numLayers: Int, hiddenSize: Int, numAttentionHeads: Int, vocabSize: Int, maxSequenceLength: Int) {
        self.numLayers = numLayers; self.hiddenSize = hiddenSize; self.numAttentionHeads = numAttentionHeads
        self.vocabSize = vocabSize; self.maxSequenceLength = maxSequenceLength
    }
}
