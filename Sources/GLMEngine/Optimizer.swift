import CGLMKernels

/// torch.optim.AdamW over a set of parameters, as ONE fused kernel call per step (glmk_adamw_step walks all
/// tensors in a single parallel pass: decoupled weight decay, bias-corrected moments).
/// Parameters with `weightDecay == false` (biases, LayerNorm weights in GLM) get no decay.
public final class AdamW {
    public let parameters: [Parameter]
    public var learningRate: Float
    public var beta1: Float, beta2: Float, eps: Float
    public var weightDecay: Float
    /// Steps taken so far (bias correction uses step + 1 on the next call).
    public private(set) var step: Int64 = 0
    /// First and second moments, one per parameter (zeros at start).
    public let exp_avg: [Tensor]
    public let exp_avg_sq: [Tensor]

    private let paramPtrs: [UnsafeMutablePointer<Float>?]
    private let gradPtrs: [UnsafePointer<Float>?]
    private let mPtrs: [UnsafeMutablePointer<Float>?]
    private let vPtrs: [UnsafeMutablePointer<Float>?]
    private let sizes: [Int]

    public init(parameters: [Parameter], learningRate: Float = 1e-4, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0.01) {
        if let p = parameters.first(where: { !$0.holdsValues }) {
            preconditionFailure("AdamW: '\(p.name)' holds only inference weights (a model loaded memory-mapped from a bf16/int8 file) and cannot be trained; convert the model to f32 (glm convert --dtype f32) to train it")
        }
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay
        exp_avg = parameters.map { Tensor(zeros: $0.shape) }
        exp_avg_sq = parameters.map { Tensor(zeros: $0.shape) }
        paramPtrs = parameters.map { $0.value.floats }
        gradPtrs = parameters.map { UnsafePointer($0.gradient.floats) }
        mPtrs = exp_avg.map { $0.floats }
        vPtrs = exp_avg_sq.map { $0.floats }
        sizes = parameters.map { $0.value.count }
    }

    /// Restores the optimizer state (resuming a checkpoint): moments are copied in, `step` set.
    public func restore(step: Int64, expAvg: [Tensor], expAvgSq: [Tensor]) throws {
        guard expAvg.count == parameters.count, expAvgSq.count == parameters.count else {
            throw EngineError.shapeMismatch(op: "AdamW.restore", message: "state for \(expAvg.count)/\(expAvgSq.count) tensors, have \(parameters.count) parameters")
        }
        for i in parameters.indices {
            try exp_avg[i].copy(from: expAvg[i])
            try exp_avg_sq[i].copy(from: expAvgSq[i])
        }
        self.step = step
    }

    /// One update with the current gradients multiplied by `gradScale` (pass the clipping factor from
    /// `clipGradNorm(_:maxNorm:)` here: clipping then costs no extra pass over the gradients).
    public func step(learningRate lr: Float? = nil, gradScale: Float = 1) {
        step += 1
        for p in parameters { p.materializedGradient() }  // a parameter that got no gradient reads zeros
        let decay = parameters.map { $0.weightDecay ? weightDecay : 0 }
        paramPtrs.withUnsafeBufferPointer { p in
            gradPtrs.withUnsafeBufferPointer { g in
                mPtrs.withUnsafeBufferPointer { m in
                    vPtrs.withUnsafeBufferPointer { v in
                        glmk_adamw_step(parameters.count, p.baseAddress, g.baseAddress, m.baseAddress, v.baseAddress,
                                        sizes, decay, lr ?? learningRate, beta1, beta2, eps, gradScale, step)
                    }
                }
            }
        }
        for p in parameters { p.markModified() }
    }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

/// Global L2 norm of all parameter gradients, accumulated in float64 (deterministic for any thread count).
public func gradientNorm(_ parameters: [Parameter]) -> Double {
    var sum = 0.0
    for p in parameters { sum += glmk_sum_squares(p.gradient.floats, p.gradient.count) }
    return sum.squareRoot()
}

/// torch.nn.utils.clip_grad_norm_: returns the total norm and the factor min(1, maxNorm / (norm + 1e-6))
/// by which gradients must be scaled. Nothing is modified: hand `scale` to `AdamW.step(gradScale:)`
/// (fused), or call `scaleGradients` if the gradients themselves must change.
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) -> (norm: Double, scale: Float) {
    let norm = gradientNorm(parameters)
    let coef = Double(maxNorm) / (norm + 1e-6)
    return (norm, coef < 1 ? Float(coef) : 1)
}

/// Multiplies every parameter gradient by `s` in place.
public func scaleGradients(_ parameters: [Parameter], by s: Float) {
    for p in parameters { glmk_scale_inplace(p.gradient.floats, s, p.gradient.count) }
}
