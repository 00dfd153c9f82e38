import GLMEngine

/// Fast decoding: a key/value cache instead of the original's hidden-state memories.
///
/// The original re-projects every layer's memory through LayerNorm and the QKV weights at every step
/// (O(context) work per token). Keys and values of past tokens never change, so caching them gives the
/// same numbers for O(1 token) of projection work. Weights can be pre-packed once for the small-M GEMMs
/// of decoding (M = batch × new tokens).
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

/// The model's weights packed once by the GEMM backend for inference (optionally as bfloat16).
public final class GLMDecodingWeights {
    struct Layer {
        let qkv: any PackedLinearWeights
        let dense: any PackedLinearWeights
        let up: any PackedLinearWeights
        let down: any PackedLinearWeights
    }
    let layers: [Layer]
    let logits: any PackedLinearWeights

    public init(model: GLMModel, storage: GEMMInputType = .float32, tape: Tape = .inference()) throws {
        func pack(_ l: GLMModel.Linear) throws -> any PackedLinearWeights {
            try tape.packLinear(weight: l.weight.value, bias: l.bias.value, storage: storage)
        }
        layers = try model.transformer.layers.map {
            Layer(qkv: try pack($0.attention.query_key_value), dense: try pack($0.attention.dense),
                  up: try pack($0.mlp.dense_h_to_4h), down: try pack($0.mlp.dense_4h_to_h))
        }
        logits = try tape.packLinear(weight: model.word_embeddings.weight.value, bias: nil, storage: storage)
    }
}

extension GLMModel {
    /// Runs new tokens ids [b, q] through the model, attending to everything in `cache` (which must have
    /// `batch == b`) and appending their keys and values to it. Same math as `forward` with memories.
    /// - mask: usually `.sep([0])` for generated tokens (they see all cached tokens and are causal among
    ///   themselves) or `.sep([q])` for a bidirectional prompt.
    /// - Returns logits [b, 1, V] of each row's last token (or all tokens with `.all`).
    public func forward(ids: Tensor, positionIds: Tensor, mask: GLMMask, cache: GLMKVCache,
                        weights: GLMDecodingWeights? = nil, logits: LogitsSelection = .last,
                        tape: Tape = .inference()) throws -> GLMOutput {
        let c = config
        guard !tape.isRecording else { throw GLMError.badInput("the K/V-cache forward is inference only") }
        guard ids.dtype == .int32, ids.rank == 2, ids.shape[0] == cache.batch else {
            throw GLMError.badInput("ids must be int32 [\(cache.batch), q] for this cache, got \(ids)")
        }
        let b = ids.shape[0], q = ids.shape[1], m = cache.length
        guard positionIds.dtype == .int32, positionIds.shape == [b, 2, q] else {
            throw GLMError.badInput("position ids must be int32 [\(b), 2, \(q)], got \(positionIds)")
        }
        guard m + q <= cache.capacity else {
            throw GLMError.badInput("\(m) cached + \(q) new tokens exceed the cache capacity \(cache.capacity)")
        }
        let (positions, blockPositions) = try Self.splitPositions(positionIds, maxPosition: c.maxSequenceLength)
        let maskTensor = try mask.tensor(batch: b, queryLength: q, memoryLength: m)
        var lookups: [(ids: Tensor, table: Variable)] = [(ids, word_embeddings.weight),
                                                          (positions, transformer.position_embeddings.weight)]
        if let block = transformer.block_position_embeddings { lookups.append((blockPositions, block.weight)) }
        var x = try tape.embeddingSum(lookups)

        func linear(_ v: Variable, _ l: GLMModel.Linear, _ packed: (any PackedLinearWeights)?) throws -> Variable {
            if let packed { return try tape.linear(v, packed: packed) }
            return try tape.linear(v, weight: l.weight, bias: l.bias)
        }
        for (i, layer) in transformer.layers.enumerated() {
            let pw = weights?.layers[i]
            let a = try tape.layerNorm(x, weight: layer.input_layernorm.weight, bias: layer.input_layernorm.bias,
                                       eps: c.layerNormEpsilon)
            let qkv = try linear(a, layer.attention.query_key_value, pw?.qkv)
            cache.append(layer: i, qkv: qkv.value, at: m)
            let context = try tape.attention(
                query: AttentionOperand(qkv, column: 0), key: AttentionOperand(Variable(cache.keys[i])),
                value: AttentionOperand(Variable(cache.values[i])), heads: c.numAttentionHeads,
                hidden: c.hiddenSize, queryLength: q, keyLength: m + q, mask: maskTensor)
            x = try tape.add(x, try linear(context, layer.attention.dense, pw?.dense))
            let n2 = try tape.layerNorm(x, weight: layer.post_attention_layernorm.weight,
                                        bias: layer.post_attention_layernorm.bias, eps: c.layerNormEpsilon)
            let up = try tape.gelu(try linear(n2, layer.mlp.dense_h_to_4h, pw?.up))
            x = try tape.add(x, try linear(up, layer.mlp.dense_4h_to_h, pw?.down))
        }
        cache.advance(by: q)
        let hidden = try tape.layerNorm(x, weight: transformer.final_layernorm.weight,
                                        bias: transformer.final_layernorm.bias, eps: c.layerNormEpsilon)
        let selected: Variable?
        switch logits {
        case .none: selected = nil
        case .all: selected = hidden
        case .last: selected = q == 1 ? hidden : Variable(try Self.lastRows(hidden.value))
        }
        var out: Variable? = nil
        if let selected {
            if let w = weights { out = try tape.linear(selected, packed: w.logits) }
            else { out = try tape.linear(selected, weight: word_embeddings.weight) }
        }
        return GLMOutput(logits: out, hidden: hidden, mems: [])
    }
}
