import GLMEngine

/// GLM, the General Language Model (THUDM, ACL 2022): `model/modeling_glm.py` GLMModel over
/// `mpu/transformer.py` GPT2ParallelTransformer, read top to bottom.
///
/// Property names follow the checkpoint keys (`transformer.layers.3.attention.query_key_value.weight` is
/// `transformer.layers[3].attention.query_key_value.weight`), so loading and saving is a walk over names.
///
/// The forward pass, exactly as the original:
///  1. x = word_embeddings[ids] + position_embeddings[pos] + block_position_embeddings[block_pos]
///  2. per layer (pre-LN): a = LN1(cat(mem, x)); qkv = a·W_qkvᵀ + b (rows Q, K, V); queries are the last
///     q rows; scores = Q·(Kᵀ/√d); scores·mask − 65504·(1 − mask); softmax; ctx = P·V; x += dense(ctx);
///     x += dense_4h_to_h(gelu(dense_h_to_4h(LN2(x))))
///  3. hidden = final_layernorm(x); logits = hidden · word_embeddingsᵀ (tied, full padded vocabulary).
/// Memories ("mems") are each layer's INPUT, concatenated after the previous memories along the sequence.
///
/// This file holds the only copy of that architecture: `forward(…mems…)` and the K/V-cache
/// `forward(…cache…)` (GLMKVCache.swift) both run `embed`, `layer` and `finalLayerNormAndLogits` below;
/// they differ only in where a layer's attention gets the keys and values of earlier tokens (`KeysAndValues`).
///
/// Tensor model parallelism (`modelParallel` set, M ranks; the original's mpu layers): each rank holds its
/// `ModelParallel.split` partition of the weights, exactly the original's mp_rank_XX split — the word
/// embeddings' rows (a vocabulary slice), the query_key_value rows of its heads (its Q | K | V thirds), the
/// dense_h_to_4h rows, and the input columns of attention.dense and dense_4h_to_h; LayerNorms, position
/// tables and the biases of the row-parallel layers are replicated. QKV and h→4h are column-parallel
/// (`columnParallel`), attention.dense and 4h→h row-parallel (`rowParallel`), the embedding lookup and the
/// loss vocabulary-parallel. Only training-style passes (no memories, no cache) run partitioned. With
/// `modelParallel` nil (M = 1) the model is exactly the one-process model.
public final class GLMModel {
    public let config: GLMConfig
    public let word_embeddings: Embedding
    public let transformer: Transformer
    /// The model-parallel group this model's weights are split over (nil: one process holds them all).
    public let modelParallel: (any ModelParallelCollectives)?

    public struct Embedding {
        public let weight: Parameter
    }

    public struct Linear {
        public let weight: Parameter
        public let bias: Parameter
    }

    public struct LayerNorm {
        public let weight: Parameter
        public let bias: Parameter
    }

    public struct Attention {
        /// [3h, h] weight, rows Q | K | V; bias [3h].
        public let query_key_value: Linear
        public let dense: Linear
    }

    public struct MLP {
        public let dense_h_to_4h: Linear
        public let dense_4h_to_h: Linear
    }

    public struct Layer {
        public let input_layernorm: LayerNorm
        public let attention: Attention
        public let post_attention_layernorm: LayerNorm
        public let mlp: MLP

        /// The layer's parameters in checkpoint order.
        public var parameters: [Parameter] {
            [input_layernorm.weight, input_layernorm.bias,
             attention.query_key_value.weight, attention.query_key_value.bias,
             attention.dense.weight, attention.dense.bias,
             post_attention_layernorm.weight, post_attention_layernorm.bias,
             mlp.dense_h_to_4h.weight, mlp.dense_h_to_4h.bias, mlp.dense_4h_to_h.weight, mlp.dense_4h_to_h.bias]
        }
    }

    public struct Transformer {
        public let position_embeddings: Embedding
        public let block_position_embeddings: Embedding?
        public let layers: [Layer]
        public let final_layernorm: LayerNorm
    }

    /// Builds the model from named tensors (checkpoint keys → float32 tensors of the right shapes).
    /// `tensor(name, shape)` must return a tensor of exactly that shape or throw.
    /// With `modelParallel` the shapes asked for are this rank's partitions (see the type's comment).
    public init(config: GLMConfig, modelParallel: (any ModelParallelCollectives)? = nil,
                tensor: (String, [Int]) throws -> Tensor) throws {
        self.config = config
        self.modelParallel = modelParallel
        let m = modelParallel?.size ?? 1
        if m > 1 {
            for (what, n) in [("attention heads", config.numAttentionHeads), ("vocabulary rows", config.vocabSize),
                              ("intermediate size", config.intermediateSize)] where n % m != 0 {
                throw GLMError.badInput("--model-parallel-size \(m) does not divide the model's \(what) (\(n))")
            }
        }
        let h = config.hiddenSize, v = config.vocabSize / m, rows = config.maxSequenceLength + 1
        func param(_ name: String, _ shape: [Int], decay: Bool) throws -> Parameter {
            Parameter(name: name, value: try tensor(name, shape), weightDecay: decay)
        }
        // Weight decay as the original's get_params_for_weight_decay_optimization: none on LayerNorm or biases.
        func linear(_ p: String, out: Int, in inFeatures: Int) throws -> Linear {
            Linear(weight: try param("\(p).weight", [out, inFeatures], decay: true),
                   bias: try param("\(p).bias", [out], decay: false))
        }
        func layerNorm(_ p: String) throws -> LayerNorm {
            LayerNorm(weight: try param("\(p).weight", [h], decay: false), bias: try param("\(p).bias", [h], decay: false))
        }
        word_embeddings = Embedding(weight: try param("word_embeddings.weight", [v, h], decay: true))
        // The tied output projection stays bf16 under int8 decoding weights (its errors go straight into the logits).
        word_embeddings.weight.quantizesToInt8 = false
        var layers: [Layer] = []
        for i in 0..<config.numLayers {
            let p = "transformer.layers.\(i)"
            // Split M ways: QKV and h→4h by output rows, attention.dense and 4h→h by input columns.
            layers.append(Layer(
                input_layernorm: try layerNorm("\(p).input_layernorm"),
                attention: Attention(query_key_value: try linear("\(p).attention.query_key_value", out: 3 * h / m, in: h),
                                     dense: try linear("\(p).attention.dense", out: h, in: h / m)),
                post_attention_layernorm: try layerNorm("\(p).post_attention_layernorm"),
                mlp: MLP(dense_h_to_4h: try linear("\(p).mlp.dense_h_to_4h", out: config.intermediateSize / m, in: h),
                         dense_4h_to_h: try linear("\(p).mlp.dense_4h_to_h", out: h, in: config.intermediateSize / m))))
        }
        transformer = Transformer(
            position_embeddings: Embedding(weight: try param("transformer.position_embeddings.weight", [rows, h], decay: true)),
            block_position_embeddings: config.blockPositionEncoding
                ? Embedding(weight: try param("transformer.block_position_embeddings.weight", [rows, h], decay: true)) : nil,
            layers: layers,
            final_layernorm: try layerNorm("transformer.final_layernorm"))
    }

    /// Every parameter in checkpoint order, named by its checkpoint key.
    public var parameters: [Parameter] {
        var ps = [word_embeddings.weight, transformer.position_embeddings.weight]
        if let b = transformer.block_position_embeddings { ps.append(b.weight) }
        for l in transformer.layers { ps += l.parameters }
        ps += [transformer.final_layernorm.weight, transformer.final_layernorm.bias]
        return ps
    }

    // MARK: - forward

    /// The pass as the original's `GLMModel.forward(input_ids, position_ids, attention_mask, *mems)`.
    /// - ids: int32 [b, s]; positionIds: int32 [b, 2, s] (row 0 positions, row 1 block positions).
    /// - mask: `.sep` (one value or one per sample) or an explicit float mask [b or 1, 1, q, ≥ m+q].
    /// - mems: num_layers + 1 tensors [b, m, h] from an earlier call (inference only).
    /// - logits: which positions get full-vocabulary logits (all, or only each sample's last position).
    /// - inputEmbeddings: replaces rows of the word embeddings before the position embeddings are added
    ///   (continuous prompts; see `InputEmbeddingOverride`); nil = the plain model.
    public func forward(ids: Tensor, positionIds: Tensor, mask: GLMMask, mems: [Tensor] = [],
                        returnMemory: Bool = false, logits: LogitsSelection = .all,
                        inputEmbeddings: InputEmbeddingOverride? = nil, tape: Tape) throws -> GLMOutput {
        let c = config
        let (b, _) = try checkInput(ids: ids, positionIds: positionIds)
        guard mems.isEmpty || mems.count == c.numLayers + 1 else {
            throw GLMError.badInput("\(mems.count) memory tensors given, the model needs \(c.numLayers + 1)")
        }
        let m = mems.first?.shape[1] ?? 0
        for (i, mem) in mems.enumerated() where mem.shape != [b, m, c.hiddenSize] {
            throw GLMError.badInput("memory \(i) has shape \(mem.shape), expected [\(b), \(m), \(c.hiddenSize)]")
        }
        if !mems.isEmpty && tape.isRecording {
            throw GLMError.badInput("memories are an inference feature; run with an inference tape")
        }
        if modelParallel != nil && (!mems.isEmpty || returnMemory || inputEmbeddings != nil) {
            throw GLMError.badInput("a model split over model-parallel ranks runs training passes only (no memories, no prompt embeddings)")
        }
        return try forward(ids: ids, positionIds: positionIds, mask: mask, context: m > 0 ? .memories(mems) : .none,
                           returnMemory: returnMemory, logits: logits, inputEmbeddings: inputEmbeddings, tape: tape)
    }

    /// Where earlier tokens come from in a forward pass (the whole model's view of `KeysAndValues`).
    enum Context {
        /// Nothing before these tokens (training, a first pass).
        case none
        /// The original's memories: num_layers + 1 tensors [b, m, h], each layer's input of earlier tokens.
        case memories([Tensor])
        /// Keys and values of earlier tokens per layer; this pass appends its own.
        case cache(GLMKVCache)
        /// Continuous batching (GLMRaggedKVCache.swift): one cache per row, rows of different lengths,
        /// one new token per row. Each row's length lives in its own cache, so the shared mask sees none.
        case ragged(GLMRaggedKVCache)

        var length: Int {
            switch self {
            case .none: return 0
            case .memories(let mems): return mems[0].shape[1]
            case .cache(let cache): return cache.length
            case .ragged: return 0
            }
        }

        func keysAndValues(layer i: Int) -> KeysAndValues {
            switch self {
            case .none: return .current
            case .memories(let mems): return .memory(mems[i])
            case .cache(let cache): return .cache(cache, layer: i)
            case .ragged(let cache): return .ragged(cache, layer: i)
            }
        }
    }

    /// The one forward pass every entry point runs (checked inputs): embedding, the layers, final
    /// LayerNorm and logits. With `returnMemory`, each layer's input is appended to `context`'s memories.
    func forward(ids: Tensor, positionIds: Tensor, mask: GLMMask, context: Context, returnMemory: Bool,
                 logits: LogitsSelection, inputEmbeddings: InputEmbeddingOverride? = nil, tape: Tape) throws -> GLMOutput {
        let c = config
        let m = context.length
        if modelParallel != nil {
            guard case .none = context else {
                throw GLMError.badInput("a model split over model-parallel ranks has no K/V cache or memories (generation runs on the merged model)")
            }
        }
        let maskTensor = try mask.tensor(batch: ids.shape[0], queryLength: ids.shape[1], memoryLength: m)
        var x = try embed(ids: ids, positionIds: positionIds, override: inputEmbeddings, tape: tape)
        var layerInputs: [Tensor] = returnMemory ? [x.value] : []
        for (i, layer) in transformer.layers.enumerated() {
            if c.checkpointActivations && tape.isRecording {
                // --checkpoint-activations: keep only the layer input, recompute the layer in backward.
                x = try tape.recompute("layer \(i)", inputs: [x], parameters: layer.parameters) { [self] t, v in
                    try self.layer(layer, v[0], keysAndValues: .current, mask: maskTensor, tape: t)
                }
            } else {
                x = try self.layer(layer, x, keysAndValues: context.keysAndValues(layer: i), mask: maskTensor, tape: tape)
            }
            if returnMemory { layerInputs.append(x.value) }
        }
        if case .cache(let cache) = context { cache.advance(by: ids.shape[1]) }
        if case .ragged(let cache) = context { cache.advance() }
        let (hidden, logitsOut) = try finalLayerNormAndLogits(x, logits: logits, tape: tape)
        var newMems: [Tensor] = []
        if returnMemory {
            var earlier: [Tensor]? = nil
            if case .memories(let mems) = context { earlier = mems }
            newMems = try layerInputs.enumerated().map { i, t in try earlier.map { try Self.concatenateRows($0[i], t) } ?? t }
        }
        return GLMOutput(logits: logitsOut, hidden: hidden, mems: newMems)
    }

    /// Step 1: x = word_embeddings[ids] + position_embeddings[pos] + block_position_embeddings[block_pos],
    /// then embedding dropout.
    ///
    /// The one hook of continuous prompts: with `override`, rows of word_embeddings[ids] (flattened to
    /// [b·s, h]) are replaced by rows of `override.source` BEFORE the position embeddings are added, as the
    /// original's `embeddings[batch_index, prompt_pos] = prompt_spell()` in `GLMModel.forward` (the
    /// transformer adds the position embeddings afterwards). Without it the pass is bit-identical to before.
    func embed(ids: Tensor, positionIds: Tensor, override: InputEmbeddingOverride? = nil, tape: Tape) throws -> Variable {
        let (positions, blockPositions) = try Self.splitPositions(positionIds, maxPosition: config.maxSequenceLength)
        if let override {
            let h = config.hiddenSize
            let words = try tape.reshape(try tape.embedding(ids, table: word_embeddings.weight), [ids.count, h])
            let replaced = try tape.reshape(try tape.overwriteRows(words, rows: override.rows, source: override.source,
                                                                   sourceRows: override.sourceRows), ids.shape + [h])
            var lookups: [(ids: Tensor, table: Variable)] = [(positions, transformer.position_embeddings.weight)]
            if let block = transformer.block_position_embeddings { lookups.append((blockPositions, block.weight)) }
            let sum = try tape.add(replaced, try tape.embeddingSum(lookups))
            return try tape.dropout(sum, p: Float(config.embeddingDropoutProb))
        }
        if let group = modelParallel {
            // VocabParallelEmbedding: this rank's vocabulary rows, summed over the group; then the
            // (replicated) position tables. The dropout mask is the same on every rank (same stream position).
            let words = try tape.vocabParallelEmbedding(ids, table: word_embeddings.weight, group: group)
            var lookups: [(ids: Tensor, table: Variable)] = [(positions, transformer.position_embeddings.weight)]
            if let block = transformer.block_position_embeddings { lookups.append((blockPositions, block.weight)) }
            return try tape.dropout(try tape.add(words, try tape.embeddingSum(lookups)), p: Float(config.embeddingDropoutProb))
        }
        var lookups: [(ids: Tensor, table: Variable)] = [(ids, word_embeddings.weight),
                                                          (positions, transformer.position_embeddings.weight)]
        if let block = transformer.block_position_embeddings { lookups.append((blockPositions, block.weight)) }
        return try tape.dropout(try tape.embeddingSum(lookups), p: Float(config.embeddingDropoutProb))
    }

    /// Where a layer's attention takes the keys and values of tokens before x from.
    enum KeysAndValues {
        /// No earlier tokens: keys and values are x's own (training, a first pass).
        case current
        /// The original's memory [b, m, h] (this layer's input for earlier tokens): cat(memory, x) goes
        /// through input_layernorm and query_key_value, and the queries are x's rows.
        case memory(Tensor)
        /// Keys and values of earlier tokens already projected, in cache layer `layer`; x's are appended.
        case cache(GLMKVCache, layer: Int)
        /// Continuous batching: row i's keys and values are in its own cache (GLMRaggedKVCache.swift);
        /// the GEMMs around attention still run over all rows at once.
        case ragged(GLMRaggedKVCache, layer: Int)
    }

    /// Step 2, one pre-LN transformer layer (mpu/transformer.py GPT2ParallelTransformerLayer), for every
    /// caller: training (also under activation recomputation), memories and the K/V cache.
    func layer(_ layer: Layer, _ x: Variable, keysAndValues: KeysAndValues, mask: Tensor, tape: Tape) throws -> Variable {
        let c = config
        let attentionDropout = Float(c.attentionDropoutProb)
        // This rank's heads (all of them without model parallelism).
        let m = modelParallel?.size ?? 1, heads = c.numAttentionHeads / m
        let headSlice = modelParallel.map { HeadSlice(first: $0.rank * heads, total: c.numAttentionHeads) }
        // attention
        let attentionInput: Variable
        if case .memory(let memory) = keysAndValues {
            attentionInput = Variable(try Self.concatenateRows(memory, x.value))
        } else {
            attentionInput = x
        }
        let a = try tape.layerNorm(attentionInput, weight: layer.input_layernorm.weight,
                                   bias: layer.input_layernorm.bias, eps: c.layerNormEpsilon)
        let qkv = try columnParallel(a, layer.attention.query_key_value, tape: tape)
        let context: Variable
        switch keysAndValues {
        case .current:
            context = try tape.attention(qkv: qkv, heads: heads, mask: mask, dropout: attentionDropout, dropoutHeads: headSlice)
        case .memory(let memory):
            context = try tape.attention(qkv: qkv, heads: heads, mask: mask, memoryLength: memory.shape[1],
                                         dropout: attentionDropout)
        case .cache(let cache, let i):
            let m = cache.length, q = x.shape[1]
            cache.append(layer: i, qkv: qkv.value, at: m)
            context = try cache.attend(layer: i, query: AttentionOperand(qkv, column: 0), heads: heads, queryLength: q,
                                       keyLength: m + q, mask: mask, dropout: attentionDropout, tape: tape)
        case .ragged(let cache, let i):
            context = try cache.attend(layer: i, qkv: qkv, heads: heads, hidden: c.hiddenSize, tape: tape)
        }
        let attended = try rowParallel(context, layer.attention.dense, tape: tape)
        let y = try tape.add(x, try tape.dropout(attended, p: Float(c.outputDropoutProb)))
        // MLP
        let n2 = try tape.layerNorm(y, weight: layer.post_attention_layernorm.weight,
                                    bias: layer.post_attention_layernorm.bias, eps: c.layerNormEpsilon)
        let up = try tape.gelu(try columnParallel(n2, layer.mlp.dense_h_to_4h, tape: tape))
        let down = try rowParallel(up, layer.mlp.dense_4h_to_h, tape: tape)
        return try tape.add(y, try tape.dropout(down, p: Float(c.outputDropoutProb)))
    }

    /// Step 3: hidden = final_layernorm(x); logits = hidden · word_embeddingsᵀ for the selected positions.
    func finalLayerNormAndLogits(_ x: Variable, logits: LogitsSelection, tape: Tape) throws -> (Variable, Variable?) {
        let hidden = try tape.layerNorm(x, weight: transformer.final_layernorm.weight,
                                        bias: transformer.final_layernorm.bias, eps: config.layerNormEpsilon)
        switch logits {
        case .none: return (hidden, nil)
        case .all: return (hidden, try vocabularyLogits(hidden, tape: tape))
        case .last: return (hidden, try vocabularyLogits(Variable(try Self.lastRows(hidden.value)), tape: tape))
        }
    }

    /// hidden · word_embeddingsᵀ (tied). Model parallel: this rank's vocabulary columns only (the
    /// original's parallel_output), to be consumed by `crossEntropy`.
    public func vocabularyLogits(_ hidden: Variable, tape: Tape) throws -> Variable {
        guard let group = modelParallel else { return try tape.linear(hidden, weight: word_embeddings.weight) }
        return try tape.columnParallelLinear(hidden, weight: word_embeddings.weight, bias: nil, group: group)
    }

    /// Σ ce·mask / Σ mask over logits from `vocabularyLogits` (vocabulary-parallel when the model is split).
    public func crossEntropy(_ logits: Variable, targets: Tensor, lossMask: Tensor?, tape: Tape) throws -> CrossEntropyResult {
        guard let group = modelParallel else { return try tape.crossEntropy(logits, targets: targets, lossMask: lossMask) }
        return try tape.vocabParallelCrossEntropy(logits, targets: targets, lossMask: lossMask, group: group)
    }

    /// x·Wᵀ + b of a layer split by output rows (ColumnParallelLinear; one process: a plain linear).
    func columnParallel(_ x: Variable, _ l: Linear, tape: Tape) throws -> Variable {
        guard let group = modelParallel else { return try tape.linear(x, weight: l.weight, bias: l.bias) }
        return try tape.columnParallelLinear(x, weight: l.weight, bias: l.bias, group: group)
    }

    /// x·Wᵀ + b of a layer split by input columns (RowParallelLinear; one process: a plain linear).
    func rowParallel(_ x: Variable, _ l: Linear, tape: Tape) throws -> Variable {
        guard let group = modelParallel else { return try tape.linear(x, weight: l.weight, bias: l.bias) }
        return try tape.rowParallelLinear(x, weight: l.weight, bias: l.bias, group: group)
    }

    /// Checks ids int32 [b, s] and position ids int32 [b, 2, s]; returns (b, s).
    func checkInput(ids: Tensor, positionIds: Tensor) throws -> (Int, Int) {
        guard ids.dtype == .int32, ids.rank == 2 else { throw GLMError.badInput("input ids must be int32 [batch, seq], got \(ids)") }
        let b = ids.shape[0], s = ids.shape[1]
        guard positionIds.dtype == .int32, positionIds.shape == [b, 2, s] else {
            throw GLMError.badInput("position ids must be int32 [\(b), 2, \(s)], got \(positionIds)")
        }
        return (b, s)
    }

    // MARK: - helpers

    /// Row 0 and row 1 of position ids [b, 2, s] as contiguous [b, s] tensors, range-checked.
    static func splitPositions(_ positionIds: Tensor, maxPosition: Int) throws -> (Tensor, Tensor) {
        let b = positionIds.shape[0], s = positionIds.shape[2]
        let pos = Tensor(uninitialized: [b, s], dtype: .int32), block = Tensor(uninitialized: [b, s], dtype: .int32)
        let src = positionIds.int32s
        for i in 0..<b {
            (pos.int32s + i * s).update(from: src + i * 2 * s, count: s)
            (block.int32s + i * s).update(from: src + i * 2 * s + s, count: s)
        }
        for (name, t) in [("position", pos), ("block position", block)] {
            for j in 0..<t.count where t.int32s[j] < 0 || Int(t.int32s[j]) > maxPosition {
                throw GLMError.badInput("\(name) id \(t.int32s[j]) at index \(j) is outside 0...\(maxPosition) (max_sequence_length)")
            }
        }
        return (pos, block)
    }

    /// cat(a [b, m, h], x [b, q, h]) along the sequence axis → [b, m+q, h].
    static func concatenateRows(_ a: Tensor, _ x: Tensor) throws -> Tensor {
        let b = a.shape[0], m = a.shape[1], q = x.shape[1], h = a.shape[2]
        guard x.shape == [b, q, h] else { throw GLMError.badInput("cannot append \(x.shape) to memory \(a.shape)") }
        let out = Tensor(uninitialized: [b, m + q, h])
        for i in 0..<b {
            (out.floats + i * (m + q) * h).update(from: a.floats + i * m * h, count: m * h)
            (out.floats + (i * (m + q) + m) * h).update(from: x.floats + i * q * h, count: q * h)
        }
        return out
    }

    /// The last row of each sample: [b, s, h] → [b, 1, h].
    static func lastRows(_ x: Tensor) throws -> Tensor {
        let b = x.shape[0], s = x.shape[1], h = x.shape[2]
        let out = Tensor(uninitialized: [b, 1, h])
        for i in 0..<b { (out.floats + i * h).update(from: x.floats + (i * s + s - 1) * h, count: h) }
        return out
    }
}

/// The attention mask argument of the forward pass.
public enum GLMMask: Sendable {
    /// GLM's `sep` form: one value for the whole batch or one per sample (part A < sep is bidirectional).
    case sep([Int])
    /// An explicit float mask [b or 1, 1, q, k] (1 = attend); its last m + q columns are used.
    case explicit(Tensor)

    func tensor(batch: Int, queryLength q: Int, memoryLength m: Int) throws -> Tensor {
        switch self {
        case .sep(let seps): return try AttentionMask.glm(seps: seps, batch: batch, queryLength: q, memoryLength: m)
        case .explicit(let t): return try AttentionMask.explicit(t, queryLength: q, memoryLength: m)
        }
    }
}

/// Which positions get full-vocabulary logits.
public enum LogitsSelection: Sendable {
    case all, last, none
}

public struct GLMOutput {
    /// [b, s, V] (or [b, 1, V] for `.last`), tied to the word embeddings, over the full padded vocabulary.
    public let logits: Variable?
    /// Final LayerNorm output [b, s, h].
    public let hidden: Variable
    /// num_layers + 1 tensors [b, m + s, h] when `returnMemory` (each layer's input, after earlier mems).
    public let mems: [Tensor]
}

public enum GLMError: Error, CustomStringConvertible, Equatable {
    case badInput(String)
    public var description: String {
        switch self {
        case .badInput(let m): return "GLM: \(m)"
        }
    }
}

/// Rows of the input word embeddings to replace before the transformer (continuous prompts, P-tuning):
/// flat row `rows[k]` (= batch · seqLength + position) of word_embeddings[ids] becomes `source[sourceRows[k]]`.
/// Gradients flow into `source` (e.g. a prompt encoder's output) and not into the replaced word rows.
public struct InputEmbeddingOverride {
    public var rows: [Int]
    public var source: Variable
    public var sourceRows: [Int]

    public init(rows: [Int], source: Variable, sourceRows: [Int]) {
        self.rows = rows; self.source = source; self.sourceRows = sourceRows
    }
}
