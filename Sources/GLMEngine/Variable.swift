import CGLMKernels

/// A node of the autograd graph: a value tensor and (after backward) its gradient.
///
/// Gradients ACCUMULATE: every op's backward adds into its inputs' gradients. A non-parameter variable's
/// gradient buffer is taken from the pool the first time something flows into it (the first contribution
/// WRITES, later ones add — no zero-fill pass needed). A `Parameter` keeps its gradient buffer once made
/// (allocated by the first backward pass that reaches it) and accumulates into it until `zeroGrad()`.
///
/// A variable can be a VIEW of another (`Tape.reshape`): its gradient is then the same view of the base's
/// gradient, so reshapes cost nothing in backward either.
public class Variable: CustomStringConvertible {
    public let value: Tensor
    /// Whether gradients flow into this variable (a `Parameter` may be frozen: see `Parameter.isFrozen`).
    public internal(set) var requiresGrad: Bool
    /// Set for views: the variable whose storage (and gradient) this one views.
    let viewBase: Variable?
    /// Offset (elements) of this view inside the base.
    let viewOffset: Int
    var gradStorage: Tensor?
    /// How many recorded ops read this variable (crossEntropy uses it to know if it may reuse the logits).
    var uses = 0

    /// A leaf. `requiresGrad: true` makes `grad` available after backward.
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        viewBase = nil
        viewOffset = 0
    }

    init(view value: Tensor, of base: Variable, offset: Int) {
        self.value = value
        requiresGrad = base.requiresGrad
        viewBase = base
        viewOffset = offset
    }

    /// Result of an op.
    init(result value: Tensor, requiresGrad: Bool) {
        self.value = value
        self.requiresGrad = requiresGrad
        viewBase = nil
        viewOffset = 0
    }

    public var shape: [Int] { value.shape }
    public var description: String { "Variable(\(value.dtype), \(value.shape)\(requiresGrad ? ", grad" : ""))" }

    /// The accumulated gradient, or nil if nothing flowed here (yet).
    public var grad: Tensor? { gradValue }

    /// `grad`, overridable (a Parameter materialises a pending zero first).
    var gradValue: Tensor? {
        if let base = viewBase {
            guard let g = base.grad else { return nil }
            return Tensor(storage: g.storage, offset: g.offset + viewOffset, shape: value.shape, dtype: .float32)
        }
        return gradStorage
    }

    /// Where backward passes put this variable's gradient. `accumulate == false` means the buffer is fresh
    /// (uninitialised, or a parameter gradient that is logically zero) and the caller must WRITE every
    /// element; otherwise it must ADD.
    func gradTarget() -> (tensor: Tensor, accumulate: Bool) {
        if let base = viewBase {
            let g = base.zeroedGrad()
            return (Tensor(storage: g.storage, offset: g.offset + viewOffset, shape: value.shape, dtype: .float32), true)
        }
        if let g = gradStorage { return (g, true) }
        let g = Tensor(uninitialized: value.shape, dtype: .float32)
        gradStorage = g
        return (g, false)
    }

    /// The gradient buffer, zero-filled if it did not exist (for partial writes: scatter-adds, views).
    func zeroedGrad() -> Tensor {
        let (g, accumulate) = gradTarget()
        if !accumulate { g.zero() }
        return g
    }

    /// Gives this variable a gradient buffer that the caller just filled completely (zero-copy handover,
    /// e.g. cross-entropy's in-place backward). Only valid when no gradient exists yet.
    func adoptGrad(_ g: Tensor) {
        precondition(gradStorage == nil && viewBase == nil)
        gradStorage = g
    }

    /// Drops the gradient buffer (back to the pool). The tape does this for op outputs once consumed.
    func releaseGrad() {
        if viewBase == nil { gradStorage = nil }
    }

    /// Runs `body` on a float32 buffer that receives the gradient by PLAIN WRITES: the gradient itself if
    /// fresh, otherwise a pooled temporary that is then added in (for kernels that cannot accumulate).
    func writeGrad(_ body: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        let (g, accumulate) = gradTarget()
        if !accumulate {
            try body(g.floats)
        } else {
            let tmp = Tensor(uninitialized: value.shape, dtype: .float32)
            try body(tmp.floats)
            glmk_add_inplace(g.floats, tmp.floats, g.count)
        }
    }
}

/// A trainable tensor whose gradient buffer is allocated lazily (by the first backward pass or reader that
/// needs it) and then kept, with backward passes adding into it.
///
/// `zeroGrad()` does not clear the buffer: it marks the gradient as logically zero, and the first backward
/// contribution then WRITES instead of adding (a GEMM with beta 0, no read of the old values), exactly as
/// for a fresh activation gradient. A full memset of every gradient (0.44 GB at GLM-base) per step is thus
/// saved; every reader (`gradient`, `grad`, the optimizer, partial writers through `zeroedGrad`) sees zeros
/// if nothing was written.
public final class Parameter: Variable {
    public let name: String
    /// Whether AdamW applies weight decay to this parameter (GLM: not to biases and LayerNorm weights).
    public var weightDecay: Bool

    /// A frozen parameter does not require a gradient: ops record no backward into it and no gradient
    /// buffer is ever made for it (the original's `requires_grad_(False)`, e.g. `--freeze-transformer`).
    /// Gradients still flow THROUGH the ops that read it into their other inputs. Set it between steps.
    public var isFrozen: Bool {
        get { !requiresGrad }
        set { requiresGrad = !newValue }
    }

    public init(name: String, value: Tensor, weightDecay: Bool = true) {
        precondition(value.dtype == .float32, "Parameter \(name): float32 only, got \(value.dtype)")
        self.name = name
        self.weightDecay = weightDecay
        super.init(value, requiresGrad: true)
        // The gradient buffer is allocated by the first backward pass (or reader) that needs it: a model
        // used only for inference (generation, forward and decode benchmarks) never pays a second copy
        // of its weights for gradients.
    }

    /// Bumped whenever the values change through the engine (optimizer steps, `markModified()`); packed
    /// inference copies are rebuilt when it moves.
    public private(set) var version = 0
    private struct PackedKey: Equatable {
        let version: Int, biasID: ObjectIdentifier?, biasVersion: Int, backend: ObjectIdentifier
    }
    /// The single source of backend-packed inference copies of this weight: at most one per storage type,
    /// built on first use by `Tape.linear` and shared by every tape and caller (forward with memories, the
    /// K/V cache, the generator), so a model never holds two packed copies of the same weight in the same
    /// storage.
    private var packedCopies: [GEMMInputType: (key: PackedKey, weights: any PackedLinearWeights)] = [:]

    /// Whether int8 decoding weights (`GEMMInputType.int8`) quantise this weight. false: its int8-storage
    /// packed copy keeps bf16 values instead (`PlainBF16Linear`: bf16 weights, fp32 x and accumulation).
    /// GLM sets it on the tied output projection: its rounding errors land unscaled in the logits, and
    /// keeping it bf16 lifts int8's top-1 agreement with fp32 on the built-in model from 0.9907 to 0.9957
    /// (README "Decoding weights"), for twice int8's bytes on that one matrix.
    public var quantizesToInt8 = true

    /// Whether a packed inference copy currently exists in any storage type (tests, memory reports).
    public var hasPackedCopy: Bool { !packedCopies.isEmpty }

    /// The storage types this weight currently has packed copies in.
    public var packedStorageTypes: Set<GEMMInputType> { Set(packedCopies.keys) }

    /// How many packed copies of this weight have been built so far (tests check that decoding packs each
    /// weight once per storage type, not once per call).
    public private(set) var packedCopyBuilds = 0

    /// Call after writing `value` directly (e.g. loading weights into an existing parameter).
    public func markModified() { version += 1; packedCopies.removeAll(); installedWeights = nil }

    /// A parameter of `shape` whose `value` holds NO float32 values (an inaccessible reserved address
    /// range, see `Storage(reservedInaccessible:)`), for weights that exist only as inference weights
    /// installed from elsewhere (`installInferenceWeights`): a model memory-mapped from a bf16/int8 file
    /// keeps its code path and shapes without an fp32 copy of its big matrices.
    public static func inferenceOnly(name: String, shape: [Int], weightDecay: Bool = true) throws -> Parameter {
        let n = shape.reduce(1, *)
        let t = Tensor(storage: try Storage(reservedInaccessible: n * DType.float32.size), shape: shape, dtype: .float32)
        let p = Parameter(name: name, value: t, weightDecay: weightDecay)
        p.requiresGrad = false  // nothing to train: gradients into it are refused by `Tape.linear`
        return p
    }

    /// Whether `value` holds this weight's float32 values (false for `inferenceOnly` parameters).
    public var holdsValues: Bool { value.storage.isAccessible }

    /// Inference weights installed from outside (e.g. views of a memory-mapped file); used by every packed
    /// product of this weight instead of a copy built from `value`.
    private var installedWeights: (storage: GEMMInputType, biasID: ObjectIdentifier?, weights: any PackedLinearWeights)?

    /// The storage type of the installed inference weights, if any.
    public var installedStorage: GEMMInputType? { installedWeights?.storage }

    /// Installs `weights` (this [out, in] weight, with `bias` folded in) as the one packed form every
    /// inference product of this parameter uses, whatever storage the tape asks for: for an
    /// `inferenceOnly` parameter they are the only weights there are.
    public func installInferenceWeights(_ weights: any PackedLinearWeights, storage: GEMMInputType, bias: Parameter?) throws {
        guard value.rank == 2, weights.outFeatures == value.shape[0], weights.inFeatures == value.shape[1] else {
            throw EngineError.shapeMismatch(op: "installInferenceWeights",
                                            message: "\(name): \(weights.outFeatures)×\(weights.inFeatures) weights for a \(value.shape) parameter")
        }
        packedCopies.removeAll()
        installedWeights = (storage, bias.map(ObjectIdentifier.init), weights)
    }

    /// This [out, in] weight (+ bias) packed by `backend` in storage `type`; cached until either parameter
    /// changes. A stale copy of that type is dropped before the new one is built, never kept beside it.
    func packed(bias: Parameter?, type: GEMMInputType, backend: any GEMMBackend) throws -> any PackedLinearWeights {
        if let i = installedWeights {
            guard i.biasID == bias.map(ObjectIdentifier.init) else {
                throw EngineError.invalidArgument(op: "linear", message: "\(name): its installed inference weights were made with another bias")
            }
            return i.weights
        }
        guard holdsValues else {
            throw EngineError.invalidArgument(op: "linear", message: "\(name) holds no float32 values and no installed inference weights")
        }
        let key = PackedKey(version: version, biasID: bias.map(ObjectIdentifier.init), biasVersion: bias?.version ?? 0,
                            backend: ObjectIdentifier(backend))
        if let c = packedCopies[type], c.key == key { return c.weights }
        packedCopies[type] = nil
        let w: any PackedLinearWeights
        if type == .int8 && !quantizesToInt8 {
            // int8 decoding weights, but this matrix keeps bf16 values (fp32 math on them, not oneDNN's
            // bf16 product, which would need native bf16 to be fast and would round x too).
            let bf16 = value.toBFloat16()
            w = try PlainBF16Linear(weights: UnsafeRawPointer(bf16.bf16), bias: bias?.value.floats, outFeatures: value.shape[0],
                                    inFeatures: value.shape[1], owner: bf16.storage)
        } else {
            w = try backend.packLinear(weight: value.floats, bias: bias?.value.floats, outFeatures: value.shape[0],
                                       inFeatures: value.shape[1], storage: type)
        }
        packedCopies[type] = (key, w)
        packedCopyBuilds += 1
        return w
    }

    /// The bfloat16 copy of `value` that bf16-compute tapes multiply with, and the version it was made from.
    private var bf16Copy: (version: Int, tensor: Tensor)?

    /// How many times the bf16 copy was (re)converted (tests: once per version, not once per product).
    public private(set) var bf16CopyBuilds = 0

    /// `value` rounded to bfloat16 (round to nearest even) for `Tape.compute == .bfloat16`: converted once
    /// per parameter version (so once per optimizer step, however many products read the weight — forward,
    /// dX in backward, recomputation), into the same buffer every time.
    public func bfloat16Value() -> Tensor {
        if let c = bf16Copy, c.version == version { return c.tensor }
        precondition(holdsValues, "Parameter \(name) holds only installed inference weights: it has no float32 values to round to bf16")
        let t = bf16Copy?.tensor ?? Tensor(uninitialized: value.shape, dtype: .bfloat16)
        glmk_f32_to_bf16(t.bf16, value.floats, value.count)
        bf16Copy = (version, t)
        bf16CopyBuilds += 1
        return t
    }

    /// The gradient is logically zero but its buffer was not cleared (see the type's comment).
    private var gradPendingZero = false

    /// The gradient accumulated since the last `zeroGrad()`.
    public var gradient: Tensor { materializedGradient() }

    override var gradValue: Tensor? { materializedGradient() }

    /// Marks the gradient as zero; the buffer is cleared only if something reads it before a backward
    /// pass writes it.
    public func zeroGrad() { gradPendingZero = true }

    /// The gradient buffer with a pending zero applied (for code that reads it through raw pointers).
    @discardableResult
    func materializedGradient() -> Tensor {
        if gradStorage == nil {
            gradStorage = Tensor(zeros: value.shape)
            gradPendingZero = false
        }
        if gradPendingZero {
            gradPendingZero = false
            gradStorage!.zero()
        }
        return gradStorage!
    }

    override func gradTarget() -> (tensor: Tensor, accumulate: Bool) {
        if gradStorage == nil {
            gradPendingZero = false
            let g = Tensor(uninitialized: value.shape, dtype: .float32)
            gradStorage = g
            return (g, false)
        }
        if gradPendingZero {
            gradPendingZero = false
            return (gradStorage!, false)
        }
        return (gradStorage!, true)
    }

    override func releaseGrad() {}
    override public var description: String { "Parameter(\(name), \(value.shape))" }
}
