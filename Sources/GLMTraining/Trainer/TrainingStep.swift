// The one optimizer step every trainer and benchmark takes, so that what is timed is what is trained.
import GLMEngine
import GLM

/// What `TrainingStep.run` did.
public struct StepOutcome: Sendable, Equatable {
    /// The loss of the batch (NaN when it was not finite).
    public let loss: Double
    /// Global gradient L2 norm before clipping (NaN when no backward ran).
    public let gradNorm: Double
    /// false: no update was made (non-finite loss or gradient), as the original skips such steps.
    public let updated: Bool
}

/// Zero gradients → forward and loss → backward → clip the global gradient norm → AdamW, with the
/// original's optimizer settings (`OptimizerSpec`: betas 0.9/0.98, eps 1e-6, weight decay 0.1 except on
/// biases and LayerNorm, clipping at 1). `Trainer` takes its steps through this type (splitting the
/// forward/backward over micro-batches), and the benchmarks and the profiler time exactly this code.
///
/// With `profiler` set, the phases outside the tape (zeroGrad, clipGradNorm, adamw) are filed there too,
/// with the bytes they must move; without one they cost nothing extra.
public final class TrainingStep {
    public let model: GLMModel
    public let settings: OptimizerSpec
    public let optimizer: AdamW
    public var profiler: Profiler?
    /// GEMM input precision of the step's forward and backward (`Tape.compute`): `.bfloat16` is mixed
    /// precision (bf16 products, fp32 accumulation, master weights, moments and loss). `accumulate` applies
    /// it to the tape it is given.
    public var compute: GEMMInputType = .float32
    private let parameterCount: Double
    /// What the step clips and updates: the model's parameters unless the caller chose others.
    public let parameters: [Parameter]

    /// - parameters: the trained parameters (nil: `model.parameters`); e.g. only a prompt encoder's when the
    ///   transformer is frozen (`--freeze-transformer`), or the model's plus a prompt encoder's.
    public init(model: GLMModel, settings: OptimizerSpec = OptimizerSpec(), learningRate: Double = 1e-4,
                parameters: [Parameter]? = nil) {
        self.model = model
        self.settings = settings
        let trained = parameters ?? model.parameters
        self.parameters = trained
        optimizer = AdamW(parameters: trained, learningRate: Float(learningRate), beta1: Float(settings.beta1),
                          beta2: Float(settings.beta2), eps: Float(settings.eps), weightDecay: Float(settings.weightDecay))
        parameterCount = Double(trained.reduce(0) { $0 + $1.value.count })
    }

    private func phase<T>(_ name: String, bytesPerParameter: Double, _ body: () throws -> T) rethrows -> T {
        guard let profiler else { return try body() }
        return try profiler.measure(name, work: OpWork(bytes: bytesPerParameter * parameterCount), body)
    }

    /// Marks every gradient as zero (the first backward write replaces it: no bytes are moved).
    public func zeroGradients() {
        phase("zeroGrad", bytesPerParameter: 0) { optimizer.zeroGrad() }
    }

    /// Runs `loss` on `tape` and, when the loss is finite, adds its gradient times `seed` to the
    /// parameters' gradients. Returns the loss, or nil (nothing added, the tape reset) when not finite.
    public func accumulate(on tape: Tape, seed: Float = 1, loss: (Tape) throws -> CrossEntropyResult) throws -> Float? {
        try accumulate(on: tape, seed: seed, scalarLoss: { try loss($0).loss })
    }

    /// `accumulate` for any scalar loss variable (the cloze losses of finetuning, `ClozeScorer.trainingLoss`).
    public func accumulate(on tape: Tape, seed: Float = 1, scalarLoss loss: (Tape) throws -> Variable) throws -> Float? {
        tape.compute = compute
        let variable = try loss(tape)
        let value = variable.value.scalarValue
        guard value.isFinite else { tape.reset(); return nil }
        try tape.backward(variable, seed: seed)
        return value
    }

    /// Clips the accumulated gradients (`settings.clipGrad`; 0 = off, the norm is still computed) and takes
    /// the AdamW step at `learningRate`, unless the norm is not finite. Returns the norm before clipping.
    /// One process only (a model-parallel model needs `updateModel`, whose norm is a collective that can fail).
    @discardableResult
    public func update(learningRate: Double) -> Double {
        precondition(model.modelParallel == nil, "TrainingStep.update: a model-parallel model steps with updateModel")
        return (try? updateModel(learningRate: learningRate)) ?? .nan
    }

    /// `update` for any model: with tensor model parallelism the norm is the whole model's (partitions'
    /// squares summed over the model-parallel group, replicated parameters once), so every rank clips by
    /// the same factor one process would.
    @discardableResult
    public func updateModel(learningRate: Double) throws -> Double {
        let clip = settings.clipGrad
        let parameters = self.parameters
        let (norm, scale) = try phase("clipGradNorm", bytesPerParameter: 4) {
            try clippedNorm(model, parameters, clip: clip)
        }
        guard norm.isFinite else { return norm }
        // AdamW reads parameter, gradient and both moments and writes three of them: 7 floats per element.
        phase("adamw", bytesPerParameter: 28) { optimizer.step(learningRate: Float(learningRate), gradScale: scale) }
        return norm
    }

    /// One whole step on one batch: zero gradients, `loss` on `tape`, backward, clip, AdamW.
    @discardableResult
    public func run(tape: Tape, learningRate: Double, loss: (Tape) throws -> CrossEntropyResult) throws -> StepOutcome {
        zeroGradients()
        guard let value = try accumulate(on: tape, loss: loss) else { return StepOutcome(loss: .nan, gradNorm: .nan, updated: false) }
        let norm = update(learningRate: learningRate)
        return StepOutcome(loss: Double(value), gradNorm: norm, updated: norm.isFinite)
    }
}

/// The gradient norm of `parameters` over the whole model and the clipping factor for `clip` (0: no
/// clipping, factor 1), as torch's clip_grad_norm_ and the original's mpu.clip_grad_norm.
public func clippedNorm(_ model: GLMModel, _ parameters: [Parameter], clip: Double) throws -> (norm: Double, scale: Float) {
    let norm = try model.gradientNorm(of: parameters)
    guard clip > 0 else { return (norm, 1) }
    let coef = Double(Float(clip)) / (norm + 1e-6)   // as clipGradNorm(maxNorm: Float): bit-identical to before
    return (norm, coef < 1 ? Float(coef) : 1)
}
