import Checkpoint
import Engine

extension GLMModel {
    /// Builds the model from a state dict (checkpoint keys → tensors of any float dtype, converted to float32).
    /// Every key the model needs must be present with exactly the expected shape; a key the model does not
    /// know is an error too (it usually means a different architecture or a wrong prefix).
    public convenience init(config: GLMConfig, stateDict: StateDict) throws {
        var used = Set<String>()
        try self.init(config: config) { name, shape in
            guard let data = stateDict[name] else { throw GLMError.badInput("checkpoint has no tensor '\(name)' (expected shape \(shape))") }
            guard data.shape == shape else {
                throw GLMError.badInput("tensor '\(name)' has shape \(data.shape), the config needs \(shape)")
            }
            guard data.dtype.isFloatingPoint else { throw GLMError.badInput("tensor '\(name)' has non-float dtype \(data.dtype.rawValue)") }
            used.insert(name)
            let t = Tensor(uninitialized: shape)
            data.copyFloats(into: UnsafeMutableBufferPointer(start: t.floats, count: t.count))
            return t
        }
        let unexpected = Set(stateDict.keys).subtracting(used).sorted()
        if !unexpected.isEmpty {
            throw GLMError.badInput("checkpoint has \(unexpected.count) unexpected tensor(s): \(unexpected.prefix(5).joined(separator: ", "))")
        }
    }

    /// The parameters as a float32 state dict keyed like the original checkpoints.
    public func stateDict() -> [(String, TensorData)] {
        parameters.map { p in
            (p.name, TensorData(float32: p.value.toFloats(), shape: p.value.shape))
        }
    }
}

extension GLMModel {
    /// Loads a model from any layout `ModelFiles` knows (folder with config.json, original training folder,
    /// model-parallel shards, HF bin, safetensors), converting every tensor to float32.
    public static func load(_ path: String, options: ModelLoadOptions = ModelLoadOptions()) throws -> GLMModel {
        let loaded = try ModelFiles.load(path, options: options)
        return try GLMModel(config: loaded.config, stateDict: loaded.weights)
    }

    /// A freshly initialised model as the original's get_model: embeddings and weights N(0, 0.02), the
    /// output projections of each layer (attention.dense, dense_4h_to_h) N(0, 0.02/√(2·layers)),
    /// biases 0, LayerNorm weights 1.
    public static func random(config: GLMConfig, seed: UInt64) throws -> GLMModel {
        var index: UInt64 = 0
        let std = Float(config.initializerRange)
        let scaled = std / Float(2 * config.numLayers).squareRoot()
        return try GLMModel(config: config) { name, shape in
            index += 1
            if name.hasSuffix("layernorm.weight") { let t = Tensor(uninitialized: shape); t.fill(1); return t }
            if name.hasSuffix(".bias") { return Tensor(zeros: shape) }
            let s = name.hasSuffix("attention.dense.weight") || name.hasSuffix("dense_4h_to_h.weight") ? scaled : std
            return Tensor.randomNormal(shape, std: s, seed: seed &* 1_000_003 &+ index)
        }
    }
}
