import GLMCheckpoint
import Foundation
import GLMSupport

/// The hyperparameters of a GLM model, Codable to and from the Hugging Face style `config.json` of the
/// THUDM GLM models (snake_case field names: `num_layers`, `hidden_size`, `num_attention_heads`,
/// `vocab_size`, `max_sequence_length`, ...). Defaults are those of the original `GLMModel`.
///
/// `tokenizer` (JSON `tokenizer_preset`) is a SwiftGLM addition naming the tokenizer preset
/// (`glm-large`, `glm-10b-chinese`, ...); HF configs do not carry it, so it may be nil until a
/// `--tokenizer`/`--preset` option or a preset match supplies it.
public struct GLMConfig: Codable, Equatable, Sendable {
    public var numLayers: Int
    public var hiddenSize: Int
    public var numAttentionHeads: Int
    /// Rows of the word embedding (the tokenizer size padded to a multiple of 128); logits cover all of them.
    public var vocabSize: Int
    /// `--max-position-embeddings`; the position and block-position tables have one more row.
    public var maxSequenceLength: Int
    public var embeddingDropoutProb: Double = 0.1
    public var attentionDropoutProb: Double = 0.1
    public var outputDropoutProb: Double = 0.1
    public var checkpointActivations: Bool = false
    public var checkpointNumLayers: Int = 1
    public var parallelOutput: Bool = true
    public var relativeEncoding: Bool = false
    public var blockPositionEncoding: Bool = true
    public var outputPredict: Bool = true
    public var spellLength: Int? = nil
    public var spellFunc: String = "lstm"
    public var attentionScale: Double = 1.0
    public var initializerRange: Double = 0.02
    public var poolToken: String = "cls"
    /// The dtype the weights were saved in, as HF writes it ("float32", "float16", "bfloat16").
    public var torchDtype: String? = nil
    public var tokenizer: String? = nil

    public init(numLayers: Int, hiddenSize: Int, numAttentionHeads: Int, vocabSize: Int, maxSequenceLength: Int,
                blockPositionEncoding: Bool = true, tokenizer: String? = nil) {
        self.numLayers = numLayers
        self.hiddenSize = hiddenSize
        self.numAttentionHeads = numAttentionHeads
        self.vocabSize = vocabSize
        self.maxSequenceLength = maxSequenceLength
        self.blockPositionEncoding = blockPositionEncoding
        self.tokenizer = tokenizer
    }

    // MARK: derived constants of the architecture (fixed in the original code)

    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// The MLP is always 4h wide in GLM.
    public var intermediateSize: Int { 4 * hiddenSize }
    /// Every LayerNorm of GLM uses eps 1e-5.
    public var layerNormEpsilon: Float { 1e-5 }
    /// Rows of the position and block-position embedding tables.
    public var positionTableRows: Int { maxSequenceLength + 1 }

    /// Checks that the numbers describe a model this code can build.
    public func validate(file: String = "config") throws {
        func bad(_ m: String) -> CheckpointError { CheckpointError(.config, file: file, m) }
        guard numLayers > 0, hiddenSize > 0, numAttentionHeads > 0, vocabSize > 0, maxSequenceLength > 0 else {
            throw bad("num_layers, hidden_size, num_attention_heads, vocab_size and max_sequence_length must be positive (got \(numLayers), \(hiddenSize), \(numAttentionHeads), \(vocabSize), \(maxSequenceLength))")
        }
        guard hiddenSize % numAttentionHeads == 0 else {
            throw bad("hidden_size \(hiddenSize) is not divisible by num_attention_heads \(numAttentionHeads)")
        }
        guard !relativeEncoding else {
            throw bad("relative_encoding (Transformer-XL) is not supported: no published GLM model uses it")
        }
        guard spellLength == nil || spellLength == 0 else {
            throw bad("continuous prompts (spell_length) are not supported")
        }
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case numLayers = "num_layers", hiddenSize = "hidden_size", numAttentionHeads = "num_attention_heads"
        case vocabSize = "vocab_size", maxSequenceLength = "max_sequence_length"
        case embeddingDropoutProb = "embedding_dropout_prob", attentionDropoutProb = "attention_dropout_prob"
        case outputDropoutProb = "output_dropout_prob", checkpointActivations = "checkpoint_activations"
        case checkpointNumLayers = "checkpoint_num_layers", parallelOutput = "parallel_output"
        case relativeEncoding = "relative_encoding", blockPositionEncoding = "block_position_encoding"
        case outputPredict = "output_predict", spellLength = "spell_length", spellFunc = "spell_func"
        case attentionScale = "attention_scale", initializerRange = "initializer_range", poolToken = "pool_token"
        case torchDtype = "torch_dtype", tokenizer = "tokenizer_preset"
        // Read only: the reference fixtures' descriptive config.json spells two fields differently.
        case vocabSizePadded = "vocab_size_padded", publishedConfig = "published_config_used_for_flags"
        case architectures, modelType = "model_type"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        numLayers = try c.decode(Int.self, forKey: .numLayers)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numAttentionHeads = try c.decode(Int.self, forKey: .numAttentionHeads)
        if let v = try c.decodeIfPresent(Int.self, forKey: .vocabSize) {
            vocabSize = v
        } else {
            vocabSize = try c.decode(Int.self, forKey: .vocabSizePadded)
        }
        maxSequenceLength = try c.decode(Int.self, forKey: .maxSequenceLength)
        func opt<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        embeddingDropoutProb = try opt(.embeddingDropoutProb, 0.1)
        attentionDropoutProb = try opt(.attentionDropoutProb, 0.1)
        outputDropoutProb = try opt(.outputDropoutProb, 0.1)
        checkpointActivations = try opt(.checkpointActivations, false)
        checkpointNumLayers = try opt(.checkpointNumLayers, 1)
        parallelOutput = try opt(.parallelOutput, true)
        relativeEncoding = try opt(.relativeEncoding, false)
        blockPositionEncoding = try opt(.blockPositionEncoding, true)
        outputPredict = try opt(.outputPredict, true)
        spellLength = try c.decodeIfPresent(Int.self, forKey: .spellLength)
        spellFunc = try opt(.spellFunc, "lstm")
        attentionScale = try opt(.attentionScale, 1.0)
        initializerRange = try opt(.initializerRange, 0.02)
        poolToken = try opt(.poolToken, "cls")
        torchDtype = try c.decodeIfPresent(String.self, forKey: .torchDtype)
        tokenizer = try c.decodeIfPresent(String.self, forKey: .tokenizer)
        if tokenizer == nil, let script = try c.decodeIfPresent(String.self, forKey: .publishedConfig) {
            tokenizer = GLMPreset.all.first { script.hasSuffix($0.configScript) }?.name
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(["GLMModel"], forKey: .architectures)
        try c.encode("glm", forKey: .modelType)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(numLayers, forKey: .numLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(embeddingDropoutProb, forKey: .embeddingDropoutProb)
        try c.encode(attentionDropoutProb, forKey: .attentionDropoutProb)
        try c.encode(outputDropoutProb, forKey: .outputDropoutProb)
        try c.encode(maxSequenceLength, forKey: .maxSequenceLength)
        try c.encode(checkpointActivations, forKey: .checkpointActivations)
        try c.encode(checkpointNumLayers, forKey: .checkpointNumLayers)
        try c.encode(parallelOutput, forKey: .parallelOutput)
        try c.encode(relativeEncoding, forKey: .relativeEncoding)
        try c.encode(blockPositionEncoding, forKey: .blockPositionEncoding)
        try c.encode(outputPredict, forKey: .outputPredict)
        try c.encode(spellLength, forKey: .spellLength) // HF writes null
        try c.encode(spellFunc, forKey: .spellFunc)
        try c.encode(attentionScale, forKey: .attentionScale)
        try c.encode(initializerRange, forKey: .initializerRange)
        try c.encode(poolToken, forKey: .poolToken)
        try c.encodeIfPresent(torchDtype, forKey: .torchDtype)
        try c.encodeIfPresent(tokenizer, forKey: .tokenizer)
    }

    /// Reads a `config.json`; errors name the file and the missing/invalid field.
    public static func load(path: String) throws -> GLMConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CheckpointError(.io, file: path, "cannot read config (\(error.localizedDescription))")
        }
        do {
            let c = try JSONDecoder().decode(GLMConfig.self, from: data)
            try c.validate(file: path)
            return c
        } catch let e as CheckpointError {
            throw e
        } catch let DecodingError.keyNotFound(key, _) {
            throw CheckpointError(.config, file: path, "config.json lacks the field \"\(key.stringValue)\"")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            throw CheckpointError(.config, file: path, "config.json field \"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\" has the wrong type")
        } catch {
            throw CheckpointError(.config, file: path, "config.json is not valid JSON (\(error.localizedDescription))")
        }
    }

    /// Pretty, key-sorted JSON (stable diffs).
    public func jsonData() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        var d = try e.encode(self)
        d.append(0x0A)
        return d
    }

    /// Writes `config.json` atomically.
    public func save(path: String) throws {
        try AtomicFileWriter.write(Array(try jsonData()), to: path, errors: CheckpointError.fromFileSystem)
    }
}
