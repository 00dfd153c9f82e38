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
