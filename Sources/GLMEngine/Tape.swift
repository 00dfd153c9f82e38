import CGLMKernels

/// Records coarse ops (each with a hand-written backward pass) and replays them in reverse.
///
/// Every op is a method on the tape (`tape.linear(x, weight: w, bias: b)`). A tape made with
/// `recording: false` (`Tape.inference()`) records nothing and keeps no activations alive: the same
/// model code then runs as pure inference. Ops record only if at least one input requires a gradient.
///
/// The tape also owns the things ops share: the GEMM backend (oneDNN by default; a GPU backend plugs in
/// here without touching model code), whether dropout is active, and the dropout RNG counter so that
/// every dropout call of a step gets a disjoint slice of one Philox stream (reproducible for any thread count).
public final class Tape {
    public let isRecording: Bool
    public let backend: any GEMMBackend
    /// Dropout is applied only when true (training mode).
    public var training: Bool
    /// Seed of the dropout stream; `dropoutOffset` advances by the element count of each dropout call.
    public var dropoutSeed: UInt64
    public var dropoutOffset: UInt64 = 0
    /// Data-parallel training: the rows of the global batch this tape's batch is, so that dropout masks
    /// are those of the whole batch (see `DropoutRows`); nil: this batch is the whole batch.
    public var dropoutRows: DropoutRows?
    /// Data-parallel training: called during `backward` with the parameters whose gradient has just become
    /// final on this tape (the last recorded op that reads them has run), so that their all-reduce can start
    /// while the rest of the backward pass runs. nil: no bookkeeping at all.
    public var onParameterGradientsFinal: (([Parameter]) -> Void)?
    /// Recorded ops not yet run backward that read each parameter (kept only with the hook set).
    private var parameterReaders: [ObjectIdentifier: Int] = [:]
    /// On a tape that records nothing, products of `linear` with a `Parameter` weight and at most this
    /// many rows go through a copy of the weight packed once by the backend (cached on the parameter, one
    /// per storage type), never through a plain sgemm. The default covers decode-sized products; a caller
    /// that wants every inference product packed (prompts too) sets `Int.max` (`inference(packedWeights:)`).
    /// 0 disables.
    public var packedLinearMaxRows = 8
    /// Storage of those packed weights, chosen by the caller: `.bfloat16` halves the bytes read per token
    /// (x is rounded to bf16 on the fly; accumulation and output stay float32); `.int8` quarters them
    /// (weight-only int8 with per-output-channel scales; x, accumulation and output stay float32).
    public var packedLinearType: GEMMInputType = .float32
    /// `attention` with at least this many queries (training, prefill) runs head by head with each head's
    /// scores kept in cache (`attentionByHeads`); shorter queries (decode) run as three batched products
    /// over all heads. `Int.max` always uses the batched products. Both compute the same function.
    public var attentionByHeadsMinQueries = 16
    /// Input precision of the training/forward GEMMs (`linear` and `attention`): `.float32` (the default)
    /// or `.bfloat16` — mixed precision: GEMM inputs are rounded to bf16 (weights once per parameter
    /// version, see `Parameter.bfloat16Value`; activations and gradients as they enter a product), while
    /// accumulation, outputs, master weights, gradients, optimizer moments, LayerNorm, softmax and the loss
    /// stay float32. `.int8` is not a compute type (it is a packed decoding-weight storage only).
    public var compute: GEMMInputType = .float32 {
        didSet { precondition(compute != .int8, "Tape.compute: int8 is a decoding-weight storage type, not a compute type") }
    }
    /// When set, every op's forward and backward time is filed there (see `Profiler`); nil costs nothing
    /// but one check per op. Recomputation tapes inherit it.
    public var profiler: Profiler?

    struct Record {
        let name: String
        let output: Variable
        let backward: () throws -> Void
        /// Only filled with `onParameterGradientsFinal` set: the parameters this op's backward writes.
        var parameters: [Parameter] = []
        /// Only filled when profiling: the op's shape summary and the work of its backward pass.
        var profileDetail = ""
        var backwardWork = OpWork.none
    }
    private var records: [Record] = []

    public init(recording: Bool = true, training: Bool = true, backend: any GEMMBackend = OneDNNBackend.shared,
                dropoutSeed: UInt64 = 0, compute: GEMMInputType = .float32) {
        precondition(compute != .int8, "Tape: int8 is a decoding-weight storage type, not a compute type")
        isRecording = recording
        self.training = training && recording
        self.backend = backend
        self.dropoutSeed = dropoutSeed
        self.compute = compute
    }

    /// A tape for inference: records nothing, dropout off.
    /// - packedWeights: nil keeps the default (decode-sized products through float32 packed weights);
    ///   a storage type sends EVERY `linear` with a Parameter weight through weights packed in that storage
    ///   (the generator's `--dtype`): one packing per weight, reused by every later call.
    public static func inference(backend: any GEMMBackend = OneDNNBackend.shared,
                                 packedWeights: GEMMInputType? = nil) -> Tape {
        let tape = Tape(recording: false, training: false, backend: backend)
        if let packedWeights {
            tape.packedLinearMaxRows = .max
            tape.packedLinearType = packedWeights
        }
        return tape
    }

    /// Number of recorded ops waiting for backward.
    public var recordedCount: Int { records.count }

    /// Names of recorded ops, oldest first (for debugging and tests).
    public var recordedNames: [String] { records.map(\.name) }

    func needsGrad(_ inputs: [Variable?]) -> Bool {
        isRecording && inputs.contains { $0?.requiresGrad == true }
    }

    /// Opens the profiling interval of an op's forward pass (nil, and no clock read, when not profiling).
    /// Every op calls this first and hands the token to `output`, which closes it.
    func profileStart() -> Profiler.Token? { profiler?.start() }

    /// The query/key sizes in an attention op's profile detail: a one-query decoding step is filed under one
    /// entry whatever the cache length (one row per op in `glm bench decode --profile`, not one per step).
    static func queryKeyDetail(_ q: Int, _ k: Int) -> String { q == 1 ? "q1 (decode step)" : "q\(q) k\(k)" }

    /// Makes the output variable of an op and, if any input needs a gradient, records `backward`.
    /// `backward` runs only if a gradient reached the output; the output's gradient is released after.
    /// Profiling: `started` (from `profileStart`) closes the forward interval here; `detail`, `work` and
    /// `backwardWork` are evaluated only when a profiler is attached.
    func output(_ value: Tensor, _ name: String, inputs: [Variable?], started: Profiler.Token? = nil,
                detail: @autoclosure () -> String = "", work: @autoclosure () -> OpWork = .none,
                backwardWork: @autoclosure () -> OpWork = .none,
                backward: @escaping (_ out: Variable, _ dy: Tensor) throws -> Void) -> Variable {
        let grad = needsGrad(inputs)
        let out = Variable(result: value, requiresGrad: grad)
        if grad {
            for v in inputs { v?.uses += 1 }
            var record = Record(name: name, output: out) { [unowned out] in
                guard let dy = out.gradStorage else { return }
                try backward(out, dy)
            }
            if profiler != nil {
                record.profileDetail = detail()
                record.backwardWork = backwardWork()
            }
            if onParameterGradientsFinal != nil {
                record.parameters = inputs.compactMap { $0 as? Parameter }.filter(\.requiresGrad)
                for p in record.parameters { parameterReaders[ObjectIdentifier(p), default: 0] += 1 }
            }
            records.append(record)
        }
        if let profiler, let started {
            profiler.finish(started, name: name, detail: grad ? records[records.count - 1].profileDetail : detail(),
                            phase: .forward, work: work())
        }
        return out
    }

    /// Backward from a scalar loss (seed gradient `seed`, default 1). Consumes the tape: records and the
    /// activations they hold are released as it goes, so memory goes back to the pool during backward.
    public func backward(_ loss: Variable, seed: Float = 1) throws {
        guard loss.value.count == 1 else {
            throw EngineError.autograd("backward(loss) needs a one-element loss, got shape \(loss.shape); use backward(from:gradient:)")
        }
        let g = Tensor(uninitialized: loss.shape, dtype: .float32)
        g.floats[0] = seed
        try backward(from: loss, gradient: g)
    }

    /// Backward from any variable with an explicit output gradient (same shape).
    public func backward(from output: Variable, gradient: Tensor) throws {
        guard isRecording else { throw EngineError.autograd("backward on a tape that does not record (inference mode)") }
        guard output.requiresGrad else {
            throw EngineError.autograd("backward from \(output): it does not depend on any variable that requires a gradient")
        }
        guard gradient.shape == output.shape, gradient.dtype == .float32 else {
            throw EngineError.shapeMismatch(op: "backward", message: "gradient \(gradient) for output \(output)")
        }
        let (g, accumulate) = output.gradTarget()
        if accumulate { glmk_add_inplace(g.floats, gradient.floats, g.count) } else { try g.copy(from: gradient) }
        defer { records.removeAll(); parameterReaders.removeAll() }
        while let r = records.popLast() {
            if let profiler {
                let t = profiler.start()
                try r.backward()
                profiler.finish(t, name: r.name, detail: r.profileDetail, phase: .backward, work: r.backwardWork)
            } else {
                try r.backward()
            }
            r.output.releaseGrad()
            if let hook = onParameterGradientsFinal, !r.parameters.isEmpty {
                var done: [Parameter] = []
                for p in r.parameters {
                    let id = ObjectIdentifier(p)
                    parameterReaders[id, default: 1] -= 1
                    if parameterReaders[id] == 0 { done.append(p) }
                }
                if !done.isEmpty { hook(done) }
            }
        }
    }

    /// Forgets every record (e.g. after an evaluation forward on a recording tape).
    public func reset() {
        records.removeAll()
        parameterReaders.removeAll()
        dropoutOffset = 0
    }

    // MARK: shared helpers

    func check(_ cond: Bool, _ op: String, _ message: @autoclosure () -> String) throws {
        if !cond { throw EngineError.shapeMismatch(op: op, message: message()) }
    }

    func checkFloat(_ v: Variable, _ op: String, _ what: String) throws {
        if v.value.dtype != .float32 {
            throw EngineError.shapeMismatch(op: op, message: "\(what) must be float32, got \(v.value.dtype)")
        }
    }
}
