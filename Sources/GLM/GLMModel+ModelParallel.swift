// A model split over a model-parallel group: building each rank's partition from the full model, and
// putting full tensors back together (checkpoints, export, gradient norms).
import GLMCheckpoint
import GLMEngine

extension GLMModel {
    /// This rank's partition of `full`, a model initialised or loaded exactly as one process does (same
    /// seed, same file): every parameter is `ModelParallel.split(…, rank, of: M)`, the original's mp_rank_XX
    /// split. So the partitions of all ranks together ARE the one-process model, and training them with
    /// the model-parallel ops computes what one process computes.
    public convenience init(partitioning full: GLMModel, group: any ModelParallelCollectives) throws {
        let byName = Dictionary(uniqueKeysWithValues: full.parameters.map { ($0.name, $0) })
        try self.init(config: full.config, modelParallel: group) { name, shape in
            guard let p = byName[name] else { throw GLMError.badInput("the full model has no parameter '\(name)'") }
            let part = try Self.partition(p.value, name: name, rank: group.rank, of: group.size)
            guard part.shape == shape else {
                throw GLMError.badInput("partition \(group.rank) of '\(name)' \(p.shape) is \(part.shape), the model needs \(shape)")
            }
            return part
        }
    }

    /// This rank's partition built one tensor at a time: `fullTensor(name, shape)` returns each WHOLE
    /// tensor (as one process builds it, in parameter order), which is split at once and dropped — so a
    /// rank never holds more than its partition plus one whole tensor (`GLMModel.random(…modelParallel:)`).
    public convenience init(config: GLMConfig, partitionOf group: any ModelParallelCollectives,
                            fullTensor: (String, [Int]) throws -> Tensor) throws {
        let shapes = Dictionary(uniqueKeysWithValues: config.parameterSpecs.map { ($0.name, $0.shape) })
        try self.init(config: config, modelParallel: group) { name, shape in
            guard let full = shapes[name] else { throw GLMError.badInput("the config has no parameter '\(name)'") }
            let part = try Self.partition(try fullTensor(name, full), name: name, rank: group.rank, of: group.size)
            guard part.shape == shape else {
                throw GLMError.badInput("partition \(group.rank) of '\(name)' \(full) is \(part.shape), the model needs \(shape)")
            }
            return part
        }
    }

    /// This rank's partition of the model in `stateDict` (whole tensors, e.g. a loaded file), split tensor by
    /// tensor before conversion to float32 (`ModelParallel.split` on the stored data).
    public convenience init(config: GLMConfig, stateDict: StateDict, partitionOf group: any ModelParallelCollectives) throws {
        var used = Set<String>()
        try self.init(config: config, modelParallel: group) { name, shape in
            guard let data = stateDict[name] else { throw GLMError.badInput("checkpoint has no tensor '\(name)' (this rank's part: \(shape))") }
            guard data.dtype.isFloatingPoint else { throw GLMError.badInput("tensor '\(name)' has non-float dtype \(data.dtype.rawValue)") }
            let part = try ModelParallel.split(data, name: name, rank: group.rank, of: group.size, file: "state dict")
            guard part.shape == shape else {
                throw GLMError.badInput("tensor '\(name)' has shape \(data.shape); its model-parallel part \(group.rank) of \(group.size) is \(part.shape), the config needs \(shape)")
            }
            used.insert(name)
            let t = Tensor(uninitialized: shape)
            part.copyFloats(into: UnsafeMutableBufferPointer(start: t.floats, count: t.count))
            return t
        }
        let unexpected = Set(stateDict.keys).subtracting(used).sorted()
        if !unexpected.isEmpty {
            throw GLMError.badInput("checkpoint has \(unexpected.count) unexpected tensor(s): \(unexpected.prefix(5).joined(separator: ", "))")
        }
    }

    /// Rank `rank`'s part of float32 `tensor` (parameter `name`) split `n` ways, by `ModelParallel.split`.
    public static func partition(_ tensor: Tensor, name: String, rank: Int, of n: Int) throws -> Tensor {
        guard n > 1, ModelParallel.partition(name: name, rank: tensor.rank) != .replicated else { return tensor.copied() }
        let part = try ModelParallel.split(TensorData(float32: tensor.toFloats(), shape: tensor.shape), name: name,
                                           rank: rank, of: n, file: "model")
        let out = Tensor(uninitialized: part.shape)
        part.copyFloats(into: UnsafeMutableBufferPointer(start: out.floats, count: out.count))
        return out
    }

    /// Whether a parameter is split over the model-parallel ranks (else every rank holds all of it).
    public static func isPartitioned(_ p: Parameter) -> Bool {
        ModelParallel.partition(name: p.name, rank: p.value.rank) != .replicated
    }

    /// The full tensors of `parts` (`parts[i]`: this rank's part of `parameters[i]`, e.g. the values or an
    /// AdamW moment). Collective over the model-parallel group: each rank puts its part where
    /// `ModelParallel.merge` puts it (zeros elsewhere) and the group sums. One process: copies.
    public func gatherFull(_ parts: [Tensor]) throws -> [Tensor] {
        let ps = parameters
        precondition(parts.count == ps.count, "one part per parameter")
        guard let group = modelParallel, group.size > 1 else { return parts.map { $0.copied() } }
        return try zip(ps, parts).map { p, part in
            guard Self.isPartitioned(p) else { return part.copied() }
            let mine = TensorData(float32: part.toFloats(), shape: part.shape)
            let zero = TensorData(float32: [Float](repeating: 0, count: part.count), shape: part.shape)
            let pieces = (0..<group.size).map { $0 == group.rank ? mine : zero }
            let merged = try ModelParallel.merge(pieces, name: p.name, files: pieces.indices.map { "model-parallel rank \($0)" })
            let full = Tensor(uninitialized: merged.shape)
            merged.copyFloats(into: UnsafeMutableBufferPointer(start: full.floats, count: full.count))
            try group.allReduceSum(UnsafeMutableBufferPointer(start: full.floats, count: full.count))
            return full
        }
    }

    /// The whole model's weights as one process holds them (collective over the model-parallel group).
    public func fullStateDict() throws -> [(String, TensorData)] {
        guard modelParallel != nil else { return stateDict() }
        return zip(parameters, try gatherFull(parameters.map(\.value))).map { p, t in
            (p.name, TensorData(float32: t.toFloats(), shape: t.shape))
        }
    }

    /// The L2 norm of the gradients of `parameters` (the model's, or a subset) over the whole model: with
    /// model parallelism the partitions' squares are summed over the group and replicated parameters
    /// counted once (`modelParallelGradientNorm`); one process: `gradientNorm`.
    public func gradientNorm(of parameters: [Parameter]) throws -> Double {
        guard let group = modelParallel else { return GLMEngine.gradientNorm(parameters) }
        return try modelParallelGradientNorm(partitioned: parameters.filter(Self.isPartitioned),
                                             replicated: parameters.filter { !Self.isPartitioned($0) }, group: group)
    }
}

extension Tensor {
    /// A float32 copy with its own storage.
    fileprivate func copied() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.floats.update(from: floats, count: count)
        return t
    }
}
