import GLMEngine

/// Fast decoding: a key/value cache instead of the original's hidden-state memories.
///
/// The original re-projects every layer's memory through LayerNorm and the QKV weights at every step
/// (O(context) work per token). Keys and values of past tokens never change, so caching them gives the
/// same numbers for O(1 token) of projection work. The layer itself is `GLMModel.layer` (GLMModel.swift);
/// pre-packed weights for the small-M GEMMs of decoding come from the tape (`Tape.packedLinearType`).
public final class GLMKVCache {
    public let batch: Int
    public let capacity: Int
    public let hidden: Int
    /// Tokens cached so far (the same for every row of the batch).
    public private(set) var length = 0
    /// Per layer [batch, capacity, hidden]: keys and values with heads side by side, like the QKV output.
    var keys: [Tensor]
    var values: [Tensor]

    public init(layers: Int, batch: Int, capacity: Int, hidden: Int) {
        self.batch = batch; self.capacity = capacity; self.hidden = hidden
        keys = (0..<layers).map { _ in Tensor(zeros: [batch, capacity, hidden]) }
        values = (0..<layers).map { _ in Tensor(zeros: [batch, capacity, hidden]) }
    }

    public convenience init(model: GLMModel, batch: Int, capacity: Int? = nil) {
        self.init(layers: model.config.numLayers, batch: batch,
                  capacity: capacity ?? model.config.maxSequenceLength + 1, hidden: model.config.hiddenSize)
    }

    /// A cache whose row i is row `rows[i]` of this one (beam search keeps the surviving beams' histories).
    /// `rows.count` may differ from `batch` (e.g. one prompt expanded to num_beams rows).
    public func gathered(rows: [Int]) throws -> GLMKVCache {
        guard rows.allSatisfy({ $0 >= 0 && $0 < batch }) else {
            throw GLMError.badInput("cache rows \(rows) out of range for a batch of \(batch)")
        }
        let out = GLMKVCache(layers: keys.count, batch: rows.count, capacity: capacity, hidden: hidden)
        out.length = length
        let stride = capacity * hidden, used = length * hidden
        for l in keys.indices {
            for (i, r) in rows.enumerated() {
                (out.keys[l].floats + i * stride).update(from: keys[l].floats + r * stride, count: used)
                (out.values[l].floats + i * stride).update(from: values[l].floats + r * stride, count: used)
            }
        }
        return out
    }

    /// Forgets everything after the first `length` tokens (e.g. to reuse a prompt's cache).
    public func truncate(to length: Int) {
        self.length = min(self.length, max(0, length))
    }

    /// Writes the K and V columns of qkv [batch, q, 3h] after the cached tokens of layer `layer`.
    func append(layer: Int, qkv: Tensor, at start: Int) {
        let q = qkv.shape[1], h = hidden
        for b in 0..<batch {
            for t in 0..<q {
                let src = qkv.floats + (b * q + t) * 3 * h
                let dst = (b * capacity + start + t) * h
                (keys[layer].floats + dst).update(from: src + h, count: h)
                (values[layer].floats + dst).update(from: src + 2 * h, count: h)
            }
        }
    }

    func advance(by q: Int) { length += q }
}

extension GLMModel {
    /// Runs new tokens ids [b, q] through the model, attending to everything in `cache` (which must have
    /// `batch == b`) and appending their keys and values to it. Same math as `forward` with memories.
    /// - mask: usually `.sep([0])` for generated tokens (they see all cached tokens and are causal among
    ///   themselves) or `.sep([q])` for a bidirectional prompt.
    /// - tape: a non-recording tape; its packed-weight settings decide how the GEMMs run (e.g.
    ///   `Tape.inference(packedWeights: .bfloat16)`).
    /// - Returns logits [b, 1, V] of each row's last token (or all tokens with `.all`).
    public func forward(ids: Tensor, positionIds: Tensor, mask: GLMMask, cache: GLMKVCache,
                        logits: LogitsSelection = .last, tape: Tape = .inference()) throws -> GLMOutput {
        guard !tape.isRecording else { throw GLMError.badInput("the K/V-cache forward is inference only") }
        guard ids.dtype == .int32, ids.rank == 2, ids.shape[0] == cache.batch else {
            throw GLMError.badInput("ids must be int32 [\(cache.batch), q] for this cache, got \(ids)")
        }
        let (_, q) = try checkInput(ids: ids, positionIds: positionIds)
        guard cache.length + q <= cache.capacity else {
            throw GLMError.badInput("\(cache.length) cached + \(q) new tokens exceed the cache capacity \(cache.capacity)")
        }
        return try forward(ids: ids, positionIds: positionIds, mask: mask, context: .cache(cache), returnMemory: false,
                           logits: logits, tape: tape)
    }

    /// Builds now the packed copies of every weight the forward pass multiplies by (QKV, dense, both MLP
    /// layers, the tied logits) in `tape`'s storage, so the first request does not pay for packing. The
    /// copies live on the parameters, so this never adds a copy `forward` on such a tape would not make.
    public func prepackWeights(for tape: Tape) throws {
        for layer in transformer.layers {
            for l in [layer.attention.query_key_value, layer.attention.dense, layer.mlp.dense_h_to_4h, layer.mlp.dense_4h_to_h] {
                try tape.prepack(weight: l.weight, bias: l.bias)
            }
        }
        try tape.prepack(weight: word_embeddings.weight)
    }
}
