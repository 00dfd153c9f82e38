import CGLMKernels

/// A contiguous piece of the parameters, in the flat order "parameter 0's elements, then parameter 1's, …".
public struct ParameterSegment: Sendable, Equatable {
    /// Index into the parameter list, first element within that parameter, element count.
    public let parameter: Int, offset: Int, count: Int
    /// Where the piece starts in the flat order.
    public let flatOffset: Int
}

/// Cuts the flat range `range` of tensors of `sizes` elements (laid one after another) into per-tensor pieces.
public func flatSegments(sizes: [Int], range: Range<Int>) -> [ParameterSegment] {
    var out: [ParameterSegment] = []
    var start = 0
    for (i, n) in sizes.enumerated() {
        let end = start + n
        let lo = max(start, range.lowerBound), hi = min(end, range.upperBound)
        if lo < hi { out.append(ParameterSegment(parameter: i, offset: lo - start, count: hi - lo, flatOffset: lo)) }
        start = end
        if start >= range.upperBound { break }
    }
    return out
}

/// AdamW over a contiguous SHARE of the parameters' elements (ZeRO stage 1): moments exist only for the
/// elements in `range`, and `step` updates only those. Each element gets exactly the arithmetic of
/// `AdamW.step` (the same fused kernel on sub-ranges), so the shards of N processes together equal one
/// unsharded update bit for bit; the caller then gathers the updated values from all shards.
public final class ShardedAdamW {
    public let parameters: [Parameter]
    public let range: Range<Int>
    public let segments: [ParameterSegment]
    public var beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    public private(set) var step: Int64 = 0
    /// First and second moments of the elements in `range`, flat.
    public let expAvg: Tensor
    public let expAvgSq: Tensor

    public init(parameters: [Parameter], range: Range<Int>, beta1: Float, beta2: Float, eps: Float, weightDecay: Float) {
        self.parameters = parameters
        self.range = range
        segments = flatSegments(sizes: parameters.map(\.value.count), range: range)
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        expAvg = Tensor(zeros: [max(range.count, 1)])
        expAvgSq = Tensor(zeros: [max(range.count, 1)])
    }

    /// Updates this share's elements with gradients × `gradScale` (parameters outside it are not touched).
    public func step(learningRate lr: Float, gradScale: Float = 1) {
        step += 1
        guard !segments.isEmpty else { return }
        let params: [UnsafeMutablePointer<Float>?] = segments.map { parameters[$0.parameter].value.floats + $0.offset }
        let grads: [UnsafePointer<Float>?] = segments.map { UnsafePointer(parameters[$0.parameter].gradient.floats + $0.offset) }
        let m: [UnsafeMutablePointer<Float>?] = segments.map { expAvg.floats + ($0.flatOffset - range.lowerBound) }
        let v: [UnsafeMutablePointer<Float>?] = segments.map { expAvgSq.floats + ($0.flatOffset - range.lowerBound) }
        let sizes = segments.map(\.count)
        let decay = segments.map { parameters[$0.parameter].weightDecay ? weightDecay : 0 }
        params.withUnsafeBufferPointer { p in
            grads.withUnsafeBufferPointer { g in
                m.withUnsafeBufferPointer { mm in
                    v.withUnsafeBufferPointer { vv in
                        glmk_adamw_step(segments.count, p.baseAddress, g.baseAddress, mm.baseAddress, vv.baseAddress,
                                        sizes, decay, lr, beta1, beta2, eps, gradScale, step)
                    }
                }
            }
        }
    }

    /// Takes this share of full moments (one tensor per parameter, as a checkpoint stores them).
    public func restore(step: Int64, expAvg fullM: [Tensor], expAvgSq fullV: [Tensor]) throws {
        guard fullM.count == parameters.count, fullV.count == parameters.count else {
            throw EngineError.shapeMismatch(op: "ShardedAdamW.restore", message: "state for \(fullM.count)/\(fullV.count) tensors, have \(parameters.count) parameters")
        }
        for s in segments {
            let at = s.flatOffset - range.lowerBound
            (expAvg.floats + at).update(from: fullM[s.parameter].floats + s.offset, count: s.count)
            (expAvgSq.floats + at).update(from: fullV[s.parameter].floats + s.offset, count: s.count)
        }
        self.step = step
    }
}
