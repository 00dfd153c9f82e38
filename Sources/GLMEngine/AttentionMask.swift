/// Builders for GLM's attention masks (float, 1 = attend, 0 = blocked), shaped [Bm, q, m + q] for
/// `Tape.attention`. Semantics follow GLM's `build_mask_matrix` (mpu/transformer.py).
public enum AttentionMask {
    /// The mask built from `sep`: per sample, lower-triangular ones (query i sees keys 0...i of the current
    /// segment) and every column < sep set to 1 (part A is bidirectional, part B causal); with m memory
    /// columns prepended as ones (memories are always visible).
    /// `seps` holds one value (shared by the whole batch → Bm = 1) or one per sample (Bm = batch).
    /// A sep larger than the segment simply makes everything visible (as slicing does in the original).
    public static func glm(seps: [Int], batch: Int, queryLength q: Int, memoryLength m: Int = 0) throws -> Tensor {
        let op = "AttentionMask.glm"
        guard seps.count == 1 || seps.count == batch else {
            throw EngineError.shapeMismatch(op: op, message: "\(seps.count) sep values for a batch of \(batch) (need 1 or \(batch))")
        }
        guard q >= 0, m >= 0 else { throw EngineError.invalidArgument(op: op, message: "negative length q \(q), m \(m)") }
        if let bad = seps.firstIndex(where: { $0 < 0 }) {
            throw EngineError.invalidArgument(op: op, message: "sep #\(bad) is \(seps[bad]) (must be ≥ 0)")
        }
        let k = m + q
        let t = Tensor(uninitialized: [seps.count, q, k])
        let p = t.floats
        for (b, sep) in seps.enumerated() {
            for i in 0..<q {
                let row = p + (b * q + i) * k
                for j in 0..<m { row[j] = 1 }
                for j in 0..<q { row[m + j] = (j <= i || j < sep) ? 1 : 0 }
            }
        }
        return t
    }

    /// An explicit mask [Bm, 1, q, K'] or [Bm, q, K'] (K' ≥ m + q), of which the LAST m + q key columns are
    /// used (as the original does); returned as a new contiguous [Bm, q, m + q] tensor.
    public static func explicit(_ mask: Tensor, queryLength q: Int, memoryLength m: Int = 0) throws -> Tensor {
        let op = "AttentionMask.explicit"
        var shape = mask.shape
        if shape.count == 4 && shape[1] == 1 { shape.remove(at: 1) }
        guard shape.count == 3, shape[1] == q, shape[2] >= m + q else {
            throw EngineError.shapeMismatch(op: op, message: "mask \(mask.shape) must be [b, 1, \(q), ≥ \(m + q)] or [b, \(q), ≥ \(m + q)]")
        }
        let src = mask.dtype == .float32 ? mask : mask.toFloat32()
        let k = m + q, kk = shape[2]
        let t = Tensor(uninitialized: [shape[0], q, k])
        for r in 0..<(shape[0] * q) {
            (t.floats + r * k).update(from: src.floats + r * kk + (kk - k), count: k)
        }
        return t
    }
}
