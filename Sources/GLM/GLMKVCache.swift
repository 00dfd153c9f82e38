import GLMEngine

/// Fast decoding: a key/value cache instead of the original's hidden-state memories.
///
/// The original re-projects every layer's memory through LayerNorm and the QKV weights at every step
/// (O(context) work per token). Keys and values of past tokens never change, so caching them gives the
/// same numbers for O(1 token) of projection work. The layer itself is `GLMModel.layer` (GLMModel.swift);
/// pre-packed weights for the small-M GEMMs of decoding come from the tape (`Tape.packedLinearType`).
///
/// `storage` is the element type of the cached keys and values: float32, or bfloat16 — half the memory
/// (GLM-10B: 0.75 instead of 1.5 MiB per cached token) and half the bytes every decoding step reads; the
/// keys and values are rounded once when stored and attention widens them exactly
/// (`Tape.attentionBF16Cache`). Decoding with bf16 or int8 weights uses a bf16 cache (`storage(forWeights:)`).
public final class GLMKVCache {
    public let batch: Int
    public let capacity: Int
    public let hidden: Int
    /// `.float32` or `.bfloat16`.
    public let storage: DType
    /// Tokens cached so far (the same for every row of the batch).
    public private(set) var length = 0
    /// Per layer [batch, capacity, hidden]: keys and values with heads side by side, like the QKV output.
    var keys: [Tensor]
    var values: [Tensor]

    public init(layers: Int, batch: Int, capacity: Int, hidden: Int, storage: DType = .float32) {
        precondition(storage == .float32 || storage == .bfloat16, "a K/V cache stores float32 or bfloat16, not \(storage)")
        self.batch = batch; self.capacity = capacity; self.hidden = hidden; self.storage = storage
        keys = (0..<layers).map { _ in Tensor(zeros: [batch, capacity, hidden], dtype: storage) }
        values = (0..<layers).map { _ in Tensor(zeros: [batch, capacity, hidden], dtype: storage) }
    }

    public convenience init(model: GLMModel, batch: Int, capacity: Int? = nil, storage: DType = .float32) {
        self.init(layers: model.config.numLayers, batch: batch,
                  capacity: capacity ?? model.config.maxSequenceLength + 1, hidden: model.config.hiddenSize, storage: storage)
    }

    /// The cache precision that goes with decoding weights stored as `weights`: float32 weights keep a
    /// float32 cache (exact decoding); bf16 and int8 weights, which already trade exactness for bytes, get a
    /// bf16 cache (their quality is measured with it: `glm bench weights`).
    public static func storage(forWeights weights: GEMMInputType?) -> DType {
        switch weights {
        case .bfloat16?, .int8?: return .bfloat16
        default: return .float32
        }
    }

    /// The first `rows` cached rows of a bf16 [batch, capacity, hidden] tensor as float32 [batch, rows, hidden].
    private func widened(_ t: Tensor, rows: Int) -> Tensor {
        let out = Tensor(uninitialized: [batch, rows, hidden])
        for b in 0..<batch { widenBFloat16(t.bf16 + b * capacity * hidden, into: out.floats + b * rows * hidden, count: rows * hidden) }
        return out
    }

    /// Bytes held by the cached keys and values (all of the capacity).
    public var byteCount: Int { (keys + values).reduce(0) { $0 + $1.byteCount } }

    /// A cache whose row i is row `rows[i]` of this one (beam search keeps the surviving beams' histories).
    /// `rows.count` may differ from `batch` (e.g. one prompt expanded to num_beams rows).
    public func gathered(rows: [Int]) throws -> GLMKVCache {
        guard rows.allSatisfy({ $0 >= 0 && $0 < batch }) else {
            throw GLMError.badInput("cache rows \(rows) out of range for a batch of \(batch)")
        }
        let out = GLMKVCache(layers: keys.count, batch: rows.count, capacity: capacity, hidden: hidden, storage: storage)
        out.length = length
        let size = storage.size, stride = capacity * hidden * size, used = length * hidden * size
        for l in keys.indices {
            for (i, r) in rows.enumerated() {
                (out.keys[l].rawPointer + i * stride).copyMemory(from: keys[l].rawPointer + r * stride, byteCount: used)
                (out.values[l].rawPointer + i * stride).copyMemory(from: values[l].rawPointer + r * stride, byteCount: used)
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
        let q = qkv.shape[1]
        for b in 0..<batch {
            for t in 0..<q { store(layer: layer, row: b * capacity + start + t, qkvRow: qkv.floats + (b * q + t) * 3 * hidden) }
        }
    }

    /// Writes the K | V blocks that follow `qkvRow`'s Q block into cache row `row` (batch·capacity + position)
    /// of `layer`, rounded to bf16 for a bf16 cache.
    func store(layer: Int, row: Int, qkvRow: UnsafePointer<Float>) {
        let h = hidden
        if storage == .bfloat16 {
            storeBFloat16(qkvRow + h, into: keys[layer].bf16 + row * h, count: h)
            storeBFloat16(qkvRow + 2 * h, into: values[layer].bf16 + row * h, count: h)
        } else {
            (keys[layer].floats + row * h).update(from: qkvRow + h, count: h)
            (values[layer].floats + row * h).update(from: qkvRow + 2 * h, count: h)
        }
    }

    /// Attention of `query`'s q rows against this layer's keys and values of the first `keyLength` cached
    /// tokens (the new tokens' included: append them first), in the cache's precision.
    func attend(layer i: Int, query: AttentionOperand, heads: Int, queryLength q: Int, keyLength k: Int, mask: Tensor,
                dropout: Float, tape: Tape) throws -> Variable {
        if storage == .bfloat16 && q < tape.attentionByHeadsMinQueries {
            return try tape.attentionBF16Cache(query: query, keys: keys[i], values: values[i], heads: heads, hidden: hidden,
                                               queryLength: q, keyLength: k, mask: mask)
        }
        if storage == .bfloat16 {
            // A prompt pass (many queries) is compute-bound: widen the k used rows once and run the by-heads
            // float32 attention (the same function: the stored values widened exactly).
            return try tape.attention(query: query, key: AttentionOperand(Variable(widened(keys[i], rows: k))),
                                      value: AttentionOperand(Variable(widened(values[i], rows: k))), heads: heads, hidden: hidden,
                                      queryLength: q, keyLength: k, mask: mask, dropout: dropout)
        }
        return try tape.attention(query: query, key: AttentionOperand(Variable(keys[i])), value: AttentionOperand(Variable(values[i])),
                                  heads: heads, hidden: hidden, queryLength: q, keyLength: k, mask: mask, dropout: dropout)
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
