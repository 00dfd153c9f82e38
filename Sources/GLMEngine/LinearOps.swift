import CGLMKernels

extension Tape {
    /// y [..., N] = x [..., K] · Wᵀ + b, with W [N, K] (nn.Linear / GLM checkpoint layout) and b [N] optional.
    /// One sgemm with W passed transposed (never copied); backward: dx = dy·W, dW += dyᵀ·x, db += Σ dy.
    /// On a non-recording tape, inputs of at most `packedLinearMaxRows` rows with Parameter weights use the
    /// parameter's packed copy in `packedLinearType` storage instead (built on first use, see `prepack`).
    /// With `compute == .bfloat16` all three products take bf16 inputs (`linearBFloat16`).
    public func linear(_ x: Variable, weight: Variable, bias: Variable? = nil) throws -> Variable {
        let op = "linear"
        let started = profileStart()
        try checkFloat(x, op, "input"); try checkFloat(weight, op, "weight")
        try check(weight.value.rank == 2, op, "weight must be [out, in], got \(weight.shape)")
        let n = weight.shape[0], k = weight.shape[1]
        try check(x.value.rank >= 1 && x.shape.last == k, op, "input \(x.shape) does not end in in_features \(k) of weight \(weight.shape)")
        if let bias { try check(bias.shape == [n], op, "bias \(bias.shape) must be [\(n)] for weight \(weight.shape)") }
        let m = x.value.count / max(k, 1)
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
        // Weights that exist only as installed inference weights (a model memory-mapped from a bf16/int8
        // file) go through them for every row count; gradients through them are refused.
        let installedOnly = (weight as? Parameter).map { !$0.holdsValues } ?? false
        if installedOnly {
            try check(!needsGrad([x, weight, bias]), op,
                      "'\((weight as! Parameter).name)' holds only \((weight as! Parameter).installedStorage?.shortName ?? "packed") inference weights (a model loaded memory-mapped from a bf16/int8 file): it cannot be trained or differentiated; convert the model to f32 (glm convert --dtype f32) to train it")
            try check(bias == nil || bias is Parameter, op, "a bias for installed inference weights must be a Parameter")
        }
        if m >= 1, m <= packedLinearMaxRows || installedOnly, !needsGrad([x, weight, bias]), let w = weight as? Parameter,
           bias == nil || bias is Parameter {
            let packed = try w.packed(bias: bias as? Parameter, type: packedLinearType, backend: backend)
            try packed.apply(x: x.value.floats, rows: m, y: y.floats)
            if let profiler, let started {
                profiler.finish(started, name: op, detail: "\(m)×\(k)·(\(n)×\(k))ᵀ packed", phase: .forward,
                                work: OpWork(flops: 2 * Double(m) * Double(n) * Double(k)))
            }
            return Variable(result: y, requiresGrad: false)
        }
        if compute == .bfloat16 {
            return try linearBFloat16(x, weight: weight, bias: bias, into: y, m: m, n: n, k: k, started: started)
        }
        try backend.gemm(transA: false, transB: true, m: m, n: n, k: k, alpha: 1, a: x.value.floats, lda: k,
                         b: weight.value.floats, ldb: k, beta: 0, c: y.floats, ldc: n)
        if let bias { glmk_bias_add(y.floats, bias.value.floats, m, n) }
        let products = Double((x.requiresGrad ? 1 : 0) + (weight.requiresGrad ? 1 : 0))
        return output(y, op, inputs: [x, weight, bias], started: started, detail: "\(m)×\(k)·(\(n)×\(k))ᵀ",
                      work: OpWork(flops: 2 * Double(m) * Double(n) * Double(k)),
                      backwardWork: OpWork(flops: products * 2 * Double(m) * Double(n) * Double(k))) { [backend] _, dy in
            if x.requiresGrad {
                let (gx, acc) = x.gradTarget()
                try backend.gemm(transA: false, transB: false, m: m, n: k, k: n, alpha: 1, a: dy.floats, lda: n,
                                 b: weight.value.floats, ldb: k, beta: acc ? 1 : 0, c: gx.floats, ldc: k)
            }
            if weight.requiresGrad {
                let (gw, acc) = weight.gradTarget()
                try backend.gemm(transA: true, transB: false, m: n, n: k, k: m, alpha: 1, a: dy.floats, lda: n,
                                 b: x.value.floats, ldb: k, beta: acc ? 1 : 0, c: gw.floats, ldc: k)
            }
            if let bias, bias.requiresGrad {
                glmk_bias_backward(bias.zeroedGrad().floats, dy.floats, m, n)
            }
        }
    }

    /// Builds now (instead of on the first product) the packed copy of `weight` (+ `bias`) that `linear`
    /// uses on this tape, so loading a model can pay the packing up front. No-op if it exists already.
    public func prepack(weight: Parameter, bias: Parameter? = nil) throws {
        try check(weight.value.rank == 2, "prepack", "weight must be [out, in], got \(weight.shape)")
        _ = try weight.packed(bias: bias, type: packedLinearType, backend: backend)
    }

    /// Inference-only linear through explicitly packed weights: the primitive under the per-parameter
    /// packed copies (model code gets those through `linear(_:weight:bias:)`; this is for tests and kernels).
    public func linear(_ x: Variable, packed: any PackedLinearWeights) throws -> Variable {
        let k = packed.inFeatures, n = packed.outFeatures
        try checkFloat(x, "linear(packed)", "input")
        try check(x.value.rank >= 1 && x.shape.last == k, "linear(packed)",
                  "input \(x.shape) does not end in in_features \(k) of the packed \(n)×\(k) weight")
        let m = x.value.count / max(k, 1)
        let y = Tensor(uninitialized: Array(x.shape.dropLast()) + [n])
        try packed.apply(x: x.value.floats, rows: m, y: y.floats)
        return Variable(result: y, requiresGrad: false)
    }

    /// Packs a plain tensor W [out, in] (+ bias [out]) for `linear(_:packed:)`, uncached; `storage: .bfloat16`
    /// halves the bytes read per token (x is rounded to bf16 on the fly, accumulation and output stay float32),
    /// `.int8` quarters them (weight-only int8 per output channel, `Int8PackedLinear`).
    public func packLinear(weight: Tensor, bias: Tensor? = nil, storage: GEMMInputType = .float32) throws -> any PackedLinearWeights {
        guard weight.rank == 2, weight.dtype == .float32 else {
            throw EngineError.shapeMismatch(op: "packLinear", message: "weight must be float32 [out, in], got \(weight)")
        }
        if let bias, bias.shape != [weight.shape[0]] || bias.dtype != .float32 {
            throw EngineError.shapeMismatch(op: "packLinear", message: "bias \(bias) for weight \(weight)")
        }
        return try backend.packLinear(weight: weight.floats, bias: bias?.floats, outFeatures: weight.shape[0],
                                      inFeatures: weight.shape[1], storage: storage)
    }

    /// C = op(A)·op(B) for rank-2 operands, or batched over the leading dimension for rank-3 operands of the
    /// same batch size. Transposes are strides, not copies. Backward writes each gradient with the strides of
    /// its operand, so a transposed operand's gradient is produced transposed for free.
    public func matmul(_ a: Variable, _ b: Variable, transposeA: Bool = false, transposeB: Bool = false) throws -> Variable {
        let op = "matmul"
        let started = profileStart()
        try checkFloat(a, op, "A"); try checkFloat(b, op, "B")
        try check(a.value.rank == b.value.rank && (a.value.rank == 2 || a.value.rank == 3), op,
                  "operands must both be rank 2 or both rank 3, got \(a.shape) and \(b.shape)")
        let batched = a.value.rank == 3
        let batch = batched ? a.shape[0] : 1
        try check(!batched || b.shape[0] == batch, op, "batch sizes differ: \(a.shape) vs \(b.shape)")
        let ar = a.shape[a.value.rank - 2], ac = a.shape[a.value.rank - 1]
        let br = b.shape[b.value.rank - 2], bc = b.shape[b.value.rank - 1]
        let (m, k) = transposeA ? (ac, ar) : (ar, ac)
        let (k2, n) = transposeB ? (bc, br) : (br, bc)
        try check(k == k2, op, "inner dimensions differ: op(A) is \(m)×\(k), op(B) is \(k2)×\(n) (A \(a.shape), B \(b.shape))")
        let sa = MatrixStrides(batch: ar * ac, rows: ar, cols: ac, transposed: transposeA)
        let sb = MatrixStrides(batch: br * bc, rows: br, cols: bc, transposed: transposeB)
        let sc = MatrixStrides(batch: m * n, rows: m, cols: n, transposed: false)
        let c = Tensor(uninitialized: batched ? [batch, m, n] : [m, n])
        try stridedProduct(batch: batch, m: m, n: n, k: k, a: (UnsafeRawPointer(a.value.floats), sa),
                           b: (UnsafeRawPointer(b.value.floats), sb), c: (c.floats, sc), beta: 0)
        let flops = 2 * Double(batch) * Double(m) * Double(n) * Double(k)
        let products = Double((a.requiresGrad ? 1 : 0) + (b.requiresGrad ? 1 : 0))
        return output(c, op, inputs: [a, b], started: started, detail: "\(batch)×\(m)×\(k)·\(k)×\(n)",
                      work: OpWork(flops: flops), backwardWork: OpWork(flops: products * flops)) { [unowned self] _, dy in
            let sdy = sc
            if a.requiresGrad {  // d op(A) (m, k) = dC (m, n) · op(B)ᵀ, stored with A's strides
                let (ga, acc) = a.gradTarget()
                try self.stridedProduct(batch: batch, m: m, n: k, k: n, a: (UnsafeRawPointer(dy.floats), sdy),
                                        b: (UnsafeRawPointer(b.value.floats), sb.transposed),
                                        c: (ga.floats, sa), beta: acc ? 1 : 0)
            }
            if b.requiresGrad {  // d op(B) (k, n) = op(A)ᵀ · dC
                let (gb, acc) = b.gradTarget()
                try self.stridedProduct(batch: batch, m: k, n: n, k: m, a: (UnsafeRawPointer(a.value.floats), sa.transposed),
                                        b: (UnsafeRawPointer(dy.floats), sdy), c: (gb.floats, sb), beta: acc ? 1 : 0)
            }
        }
    }

    /// One strided (batched) float32 product through the backend. If C's layout is transposed (column
    /// stride ≠ 1) the problem is flipped to Cᵀ = op(B)ᵀ·op(A)ᵀ so the backend always writes row-major rows.
    func stridedProduct(batch: Int, batch1: Int = 1, m: Int, n: Int, k: Int,
                        a: (UnsafeRawPointer, MatrixStrides), b: (UnsafeRawPointer, MatrixStrides),
                        c: (UnsafeMutablePointer<Float>, MatrixStrides), beta: Float, alpha: Float = 1,
                        input: GEMMInputType = .float32) throws {
        if c.1.col != 1 && c.1.row == 1 {
            let p = StridedMatmul(batch0: batch, batch1: batch1, m: n, n: m, k: k, strideA: b.1.transposed.array,
                                  strideB: a.1.transposed.array, strideC: c.1.transposed.array)
            try backend.matmul(p, input: input, a: b.0, b: a.0, c: c.0, alpha: alpha, beta: beta)
        } else {
            let p = StridedMatmul(batch0: batch, batch1: batch1, m: m, n: n, k: k, strideA: a.1.array,
                                  strideB: b.1.array, strideC: c.1.array)
            try backend.matmul(p, input: input, a: a.0, b: b.0, c: c.0, alpha: alpha, beta: beta)
        }
    }
}

/// Element strides of a logical matrix operand: (batch0, batch1, row, column).
struct MatrixStrides: Equatable {
    var batch0: Int, batch1: Int, row: Int, col: Int

    init(batch0: Int, batch1: Int = 0, row: Int, col: Int) {
        self.batch0 = batch0; self.batch1 = batch1; self.row = row; self.col = col
    }

    /// A dense stored (rows, cols) matrix, used as itself or transposed.
    init(batch: Int, rows: Int, cols: Int, transposed: Bool) {
        self.init(batch0: batch, row: transposed ? 1 : cols, col: transposed ? cols : 1)
    }

    var transposed: MatrixStrides { MatrixStrides(batch0: batch0, batch1: batch1, row: col, col: row) }
    var array: [Int] { [batch0, batch1, row, col] }
}
