import CGLMKernels

/// Weight-only int8 packed weights (`GEMMInputType.int8`): W [out, in] quantised per output channel,
/// symmetric, W[n, k] ≈ scale[n]·q[n, k] with q ∈ [−127, 127] and scale[n] = max_k |W[n, k]| / 127, so each
/// weight is off by at most scale[n]/2. `apply` runs `glmk_linear_int8w_forward`: x stays float32, the int8
/// weights are widened to float and accumulated in float32 (no int8 activations).
///
/// Memory: out·in bytes of q, plus out floats of scales and out floats of bias (a copy, as the oneDNN packs
/// keep one). No float32 copy of the weight is kept: the float32 weight stays the model's own parameter.
/// Built by `OneDNNBackend.packLinear(…, storage: .int8)`, so it is cached per parameter like the
/// float32/bfloat16 packs (`Parameter.packed`).
public final class Int8PackedLinear: PackedLinearWeights {
    public let outFeatures: Int
    public let inFeatures: Int
    let q: UnsafeMutablePointer<Int8>
    let scales: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>?
    /// Set when q and the scales are views of memory someone else owns (a mapped file): kept alive here,
    /// never deallocated here.
    private let owner: AnyObject?

    /// Views existing int8 weights and scales (e.g. a memory-mapped converted checkpoint, see
    /// `glm convert --dtype int8`), zero-copy: `owner` keeps their memory alive. The bias is copied (one
    /// float per output). The format is the one this class's quantiser produces (per-row scales).
    public init(quantized: UnsafePointer<Int8>, scales: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                outFeatures: Int, inFeatures: Int, owner: AnyObject) throws {
        guard outFeatures > 0, inFeatures > 0 else {
            throw EngineError.shapeMismatch(op: "int8 weights", message: "empty weight \(outFeatures)×\(inFeatures)")
        }
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        q = UnsafeMutablePointer(mutating: quantized)
        self.scales = UnsafeMutablePointer(mutating: scales)
        self.bias = alignedCopy(of: bias, count: outFeatures)
        self.owner = owner
    }

    /// Quantises W (outFeatures, inFeatures) float32 [+ bias (outFeatures)].
    public init(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int, inFeatures: Int) throws {
        guard outFeatures > 0, inFeatures > 0 else {
            throw EngineError.shapeMismatch(op: "packLinear int8", message: "empty weight \(outFeatures)×\(inFeatures)")
        }
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        q = UnsafeMutableRawPointer.allocate(byteCount: outFeatures * inFeatures, alignment: 64)
            .bindMemory(to: Int8.self, capacity: outFeatures * inFeatures)
        scales = UnsafeMutableRawPointer.allocate(byteCount: outFeatures * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: outFeatures)
        self.bias = alignedCopy(of: bias, count: outFeatures)
        owner = nil
        glmk_quantize_int8_rows(q, scales, weight, outFeatures, inFeatures)
    }

    /// The quantiser of this format, for writers of int8 files: w (rows, cols) float32 → q int8 and one
    /// scale per row, bit-identical to what packing a float32 weight produces.
    public static func quantizeRows(_ w: UnsafePointer<Float>, rows: Int, cols: Int,
                                    into q: UnsafeMutablePointer<Int8>, scales: UnsafeMutablePointer<Float>) {
        glmk_quantize_int8_rows(q, scales, w, rows, cols)
    }

    deinit {
        if owner == nil {
            q.deallocate()
            scales.deallocate()
        }
        bias?.deallocate()
    }

    /// Bytes this pack holds (q + scales + bias).
    public var byteCount: Int { outFeatures * inFeatures + outFeatures * 4 + (bias == nil ? 0 : outFeatures * 4) }

    /// The per-output-channel scales (outFeatures).
    public var scaleValues: [Float] { Array(UnsafeBufferPointer(start: scales, count: outFeatures)) }

    /// The quantised weights q (outFeatures × inFeatures, row-major).
    public var quantizedValues: [Int8] { Array(UnsafeBufferPointer(start: q, count: outFeatures * inFeatures)) }

    public func apply(x: UnsafePointer<Float>, rows: Int, y: UnsafeMutablePointer<Float>) throws {
        glmk_linear_int8w_forward(y, x, q, scales, bias, rows, outFeatures, inFeatures)
    }
}
