import CGLMKernels

/// Packed-weight form of a bf16 weight W [out, in] read IN PLACE from memory someone else owns (a
/// memory-mapped safetensors file written by `glm convert --dtype bf16`): zero-copy, no reorder.
///
/// `apply` runs `glmk_linear_bf16w_forward`: the bf16 values are widened to float exactly and x,
/// accumulation and y stay float32, so the result is the float32 product of the stored bf16 values (a
/// float32 model holding the widened values computes the same function, up to summation order). That is
/// deliberately not oneDNN's bf16 product (which also rounds x to bf16 and needs a reordered copy).
public final class PlainBF16Linear: PackedLinearWeights {
    public let outFeatures: Int
    public let inFeatures: Int
    let weights: UnsafePointer<UInt16>
    let bias: UnsafeMutablePointer<Float>?
    private let owner: AnyObject

    /// - weights: outFeatures × inFeatures bf16 bit patterns, row-major; kept alive by `owner`.
    /// - bias: copied (one float per output).
    public init(weights: UnsafeRawPointer, bias: UnsafePointer<Float>?, outFeatures: Int, inFeatures: Int,
                owner: AnyObject) throws {
        guard outFeatures > 0, inFeatures > 0 else {
            throw EngineError.shapeMismatch(op: "bf16 weights", message: "empty weight \(outFeatures)×\(inFeatures)")
        }
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.weights = weights.assumingMemoryBound(to: UInt16.self)
        self.bias = alignedCopy(of: bias, count: outFeatures)
        self.owner = owner
    }

    deinit { bias?.deallocate() }

    public func apply(x: UnsafePointer<Float>, rows: Int, y: UnsafeMutablePointer<Float>) throws {
        glmk_linear_bf16w_forward(y, x, weights, bias, rows, outFeatures, inFeatures)
    }
}

/// A 64-byte-aligned copy of `count` floats (a packed weight's bias, owned and freed by its holder), or nil.
func alignedCopy(of values: UnsafePointer<Float>?, count: Int) -> UnsafeMutablePointer<Float>? {
    guard let values else { return nil }
    let copy = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64).bindMemory(to: Float.self, capacity: count)
    copy.update(from: values, count: count)
    return copy
}
