import Foundation
import GLMCheckpoint
import GLMEngine

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
        if let p = parameters.first(where: { !$0.holdsValues }) {
            preconditionFailure("stateDict: '\(p.name)' holds only memory-mapped inference weights; the model's file already is its state (convert it with glm convert)")
        }
        return parameters.map { p in
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

    /// How a new model's two position tables start.
    public enum PositionInitialization: String, Sendable, CaseIterable {
        /// N(0, initializer_range), as the original's get_model.
        case normal
        /// Sinusoids (Vaswani et al.): row p, columns 2i and 2i+1 = sin and cos of p / 10000^(2i/h),
        /// scaled to the RMS of the normal initialisation. WHY: the tables stay learned parameters, but
        /// the dot product of two rows then already depends on their distance, so attention to nearby
        /// tokens is learnable at once; with random rows every pair of positions must be learned
        /// separately, which on a small corpus leaves a model blind to its context for thousands of steps.
        case sinusoidal
    }

    /// A sinusoidal table [rows, h] with per-element RMS `rms`.
    static func sinusoidalTable(rows: Int, hidden: Int, rms: Float) -> Tensor {
        var v = [Float](repeating: 0, count: rows * hidden)
        let amplitude = Double(rms) * 2.0.squareRoot()
        for p in 0..<rows {
            for i in stride(from: 0, to: hidden, by: 2) {
                let angle = Double(p) / pow(10000, Double(i) / Double(hidden))
                v[p * hidden + i] = Float(amplitude * sin(angle))
                if i + 1 < hidden { v[p * hidden + i + 1] = Float(amplitude * cos(angle)) }
            }
        }
        return try! Tensor(shape: [rows, hidden], values: v)
    }

    /// A freshly initialised model as the original's get_model: embeddings and weights N(0, 0.02), the
    /// output projections of each layer (attention.dense, dense_4h_to_h) N(0, 0.02/√(2·layers)),
    /// biases 0, LayerNorm weights 1; the position tables as `positions` says.
    /// With `modelParallel`: this rank's partition of exactly that model (GLMModel+ModelParallel.swift).
    public static func random(config: GLMConfig, seed: UInt64, positions: PositionInitialization = .normal,
                              modelParallel: (any ModelParallelCollectives)? = nil) throws -> GLMModel {
        var index: UInt64 = 0
        let std = Float(config.initializerRange)
        let scaled = std / Float(2 * config.numLayers).squareRoot()
        let initial = { (name: String, shape: [Int]) -> Tensor in
            index += 1
            if positions == .sinusoidal, name.hasSuffix("position_embeddings.weight"), shape.count == 2 {
                return sinusoidalTable(rows: shape[0], hidden: shape[1], rms: std)
            }
            if name.hasSuffix("layernorm.weight") { let t = Tensor(uninitialized: shape); t.fill(1); return t }
            if name.hasSuffix(".bias") { return Tensor(zeros: shape) }
            let s = name.hasSuffix("attention.dense.weight") || name.hasSuffix("dense_4h_to_h.weight") ? scaled : std
            return Tensor.randomNormal(shape, std: s, seed: seed &* 1_000_003 &+ index)
        }
        if let group = modelParallel { return try GLMModel(config: config, partitionOf: group, fullTensor: initial) }
        return try GLMModel(config: config, tensor: initial)
    }
}
