import GLMCheckpoint

/// The state-dict names and shapes of a GLM model, in the original's `named_parameters()` order
/// (`model/modeling_glm.py GLMModel`, `mpu/transformer.py GPT2ParallelTransformer`). The model code
/// uses the same names, so a state dict maps onto it one to one.
public struct ParameterSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
}

extension GLMConfig {
    /// Names of one layer's parameters, without the `transformer.layers.L.` prefix, in order.
    public static let layerParameterSuffixes = [
        "input_layernorm.weight", "input_layernorm.bias",
        "attention.query_key_value.weight", "attention.query_key_value.bias",
        "attention.dense.weight", "attention.dense.bias",
        "post_attention_layernorm.weight", "post_attention_layernorm.bias",
        "mlp.dense_h_to_4h.weight", "mlp.dense_h_to_4h.bias",
        "mlp.dense_4h_to_h.weight", "mlp.dense_4h_to_h.bias",
    ]

    /// Every parameter of the model with its shape (weights in `F.linear` orientation [out, in]).
    public var parameterSpecs: [ParameterSpec] {
        let h = hiddenSize, f = intermediateSize
        var out = [ParameterSpec(name: "word_embeddings.weight", shape: [vocabSize, h]),
                   ParameterSpec(name: "transformer.position_embeddings.weight", shape: [positionTableRows, h])]
        if blockPositionEncoding {
            out.append(ParameterSpec(name: "transformer.block_position_embeddings.weight", shape: [positionTableRows, h]))
        }
        let shapes: [[Int]] = [[h], [h], [3 * h, h], [3 * h], [h, h], [h], [h], [h], [f, h], [f], [h, f], [h]]
        for l in 0..<numLayers {
            for (s, shape) in zip(GLMConfig.layerParameterSuffixes, shapes) {
                out.append(ParameterSpec(name: "transformer.layers.\(l).\(s)", shape: shape))
            }
        }
        out.append(ParameterSpec(name: "transformer.final_layernorm.weight", shape: [h]))
        out.append(ParameterSpec(name: "transformer.final_layernorm.bias", shape: [h]))
        return out
    }

    public var parameterCount: Int { parameterSpecs.reduce(0) { $0 + $1.shape.reduce(1, *) } }

    /// Checks that `weights` has exactly the model's tensors with the model's shapes. Errors name the
    /// tensor and the file it came from (`provenance`).
    public func validate(weights: StateDict, provenance: [String: String] = [:], source: String) throws {
        try validate(shapes: weights.mapValues { TensorShape(dtype: $0.dtype, shape: $0.shape) }, provenance: provenance, source: source)
    }

    /// `validate(weights:)` from dtypes and shapes alone (streaming readers know them before any bytes).
    public func validate(shapes weights: [String: TensorShape], provenance: [String: String] = [:], source: String) throws {
        let specs = parameterSpecs
        let expected = Set(specs.map(\.name))
        let missing = specs.map(\.name).filter { weights[$0] == nil }
        if !missing.isEmpty {
            throw CheckpointError(.missingKey, file: source,
                                  "missing \(missing.count) tensor(s) the model needs: \(GLMConfig.list(missing))")
        }
        let unexpected = weights.keys.filter { !expected.contains($0) }.sorted()
        if !unexpected.isEmpty {
            throw CheckpointError(.unexpectedKey, file: unexpected.first.flatMap { provenance[$0] } ?? source,
                                  "\(unexpected.count) unexpected tensor(s) the model does not have: \(GLMConfig.list(unexpected))")
        }
        for s in specs {
            let t = weights[s.name]!
            guard t.shape == s.shape else {
                throw CheckpointError(.shapeMismatch, file: provenance[s.name] ?? source,
                                      "tensor '\(s.name)' has shape \(t.shape) but the config (\(summary)) needs \(s.shape)")
            }
            guard t.dtype.isFloatingPoint else {
                throw CheckpointError(.shapeMismatch, file: provenance[s.name] ?? source,
                                      "tensor '\(s.name)' has dtype \(t.dtype.rawValue); weights must be F32, F16 or BF16")
            }
        }
    }

    /// One line: "2 layers, hidden 32, 4 heads, vocab 30592, max positions 128".
    public var summary: String {
        "\(numLayers) layers, hidden \(hiddenSize), \(numAttentionHeads) heads, vocab \(vocabSize), max positions \(maxSequenceLength)"
    }

    static func list(_ names: [String]) -> String {
        let shown = names.prefix(8).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > 8 ? shown + ", … (\(names.count - 8) more)" : shown
    }
}

/// A tensor's stored dtype and shape, without its bytes.
public struct TensorShape: Sendable, Equatable {
    public var dtype: StoredDType
    public var shape: [Int]
    public init(dtype: StoredDType, shape: [Int]) { self.dtype = dtype; self.shape = shape }
}
