import CGLMKernels

/// One of Q, K, V for `Tape.attention`: a column block of a [batch, rows, width] float32 variable.
/// GLM's fused query_key_value output [b, s, 3h] gives Q, K and V as the blocks at columns 0, h and 2h;
/// a K/V cache [b, capacity, h] gives keys as column 0, rows 0..<k. The attention op reads and writes
/// these blocks through strides — nothing is split or copied.
public struct AttentionOperand {
    public let variable: Variable
    /// First column of the block (its width is the attention's hidden size).
    public let column: Int
    /// First row used (queries with memories: the last q rows start at row m).
    public let firstRow: Int

    public init(_ variable: Variable, column: Int = 0, firstRow: Int = 0) {
        self.variable = variable
        self.column = column
        self.firstRow = firstRow
    }

    var rows: Int { variable.shape[1] }
    var width: Int { variable.shape[2] }

    /// Strides of head `h` of batch `b` seen as a (rows, headDim) matrix: (batch, head, row, column).
    var strides: MatrixStrides { MatrixStrides(batch0: rows * width, batch1: 0, row: width, col: 1) }

    func headStrides(headDim: Int) -> MatrixStrides {
        MatrixStrides(batch0: rows * width, batch1: headDim, row: width, col: 1)
    }

    /// Element offset of (row firstRow, column) inside the variable.
    var elementOffset: Int { firstRow * width + column }
}

extension Tape {
    /// GLM's fused multi-head attention over the fused QKV projection qkv [b, m+q, 3h] (columns Q | K | V):
    /// queries are the last q rows, keys/values all m+q rows (m = memoryLength, 0 in training).
    /// mask: [Bm, q, m+q] or [Bm, 1, q, m+q] float (1 attend, 0 blocked), Bm ∈ {1, b}.
    /// Returns the context [b, q, h] with heads merged (ready for the output dense layer).
    /// With tensor model parallelism qkv holds this rank's heads only (`dropoutHeads` says which of all).
    public func attention(qkv: Variable, heads: Int, mask: Tensor, memoryLength: Int = 0,
                          dropout p: Float = 0, dropoutHeads: HeadSlice? = nil) throws -> Variable {
        try check(qkv.value.rank == 3 && qkv.shape[2] % 3 == 0, "attention", "qkv must be [b, s, 3h], got \(qkv.shape)")
        let h = qkv.shape[2] / 3, s = qkv.shape[1]
        try check(memoryLength >= 0 && memoryLength < s || (s == 0 && memoryLength == 0), "attention",
                  "memoryLength \(memoryLength) must be in [0, \(s)) for qkv \(qkv.shape)")
        return try attention(query: AttentionOperand(qkv, column: 0, firstRow: memoryLength),
                             key: AttentionOperand(qkv, column: h), value: AttentionOperand(qkv, column: 2 * h),
                             heads: heads, hidden: h, queryLength: s - memoryLength, keyLength: s, mask: mask,
                             dropout: p, dropoutHeads: dropoutHeads)
    }

    /// Attention with separate query [b, q, h], key [b, k, h] and value [b, k, h] variables.
    public func attention(query: Variable, key: Variable, value: Variable, heads: Int, mask: Tensor) throws -> Variable {
        try check(query.value.rank == 3 && key.value.rank == 3 && value.value.rank == 3, "attention",
                  "query/key/value must be rank 3, got \(query.shape), \(key.shape), \(value.shape)")
        return try attention(query: AttentionOperand(query), key: AttentionOperand(key), value: AttentionOperand(value),
                             heads: heads, hidden: query.shape[2], queryLength: query.shape[1],
                             keyLength: key.shape[1], mask: mask)
    }

    /// The general form: per head, scores = Q·Kᵀ; P = softmax((scores/√d)·mask − 65504·(1 − mask));
    /// ctx = P·V; output [b, q, h] with heads merged. Q uses rows firstRow..<firstRow+q of its operand,
    /// K and V rows firstRow..<firstRow+k. Three batched oneDNN products over (batch, head) and one fused
    /// masked-softmax kernel; backward: dP = dctx·Vᵀ, dV = Pᵀ·dctx, dS = softmax', dQ = dS·K, dK = dSᵀ·Q.
    /// With `compute == .bfloat16` the by-heads path (q ≥ `attentionByHeadsMinQueries`: training, prefill)
    /// multiplies bf16-rounded operands with fp32 accumulation; the softmax stays fp32. Shorter queries
    /// (decoding) stay fp32: their products are tiny and memory-bound.
    ///
    /// `dropoutHeads` (tensor model parallelism): these `heads` are a slice of a larger set of heads, and
    /// every head's dropout mask is the one it gets when all heads are computed in one call (the stream
    /// advances by the positions of ALL heads), so a model split over ranks drops what one process drops.
    public func attention(query: AttentionOperand, key: AttentionOperand, value: AttentionOperand,
                          heads: Int, hidden: Int, queryLength q: Int, keyLength k: Int, mask: Tensor,
                          dropout p: Float = 0, dropoutHeads: HeadSlice? = nil) throws -> Variable {
        let op = "attention"
        let started = profileStart()
        let ops = [query, key, value]
        let names = ["query", "key", "value"]
        for (o, name) in zip(ops, names) {
            try checkFloat(o.variable, op, name)
            try check(o.variable.value.rank == 3, op, "\(name) must be [b, rows, width], got \(o.variable.shape)")
            try check(o.column >= 0 && o.column + hidden <= o.width, op,
                      "\(name) columns \(o.column)..<\(o.column + hidden) exceed width \(o.width)")
            let need = name == "query" ? q : k
            try check(o.firstRow >= 0 && o.firstRow + need <= o.rows, op,
                      "\(name) rows \(o.firstRow)..<\(o.firstRow + need) exceed \(o.rows)")
        }
        let b = query.variable.shape[0]
        try check(key.variable.shape[0] == b && value.variable.shape[0] == b, op, "batch sizes differ")
        try check(heads > 0 && hidden % heads == 0, op, "hidden \(hidden) is not divisible by heads \(heads)")
        try check(q >= 1 && k >= q, op, "need 1 ≤ q ≤ k, got q \(q), k \(k)")
        let bm = try attentionMaskBatch(mask, batch: b, queryLength: q, keyLength: k, op: op)
        let d = hidden / heads
        let scale = 1 / Float(d).squareRoot()
        try check(p >= 0 && p < 1, op, "attention dropout \(p) must be in [0, 1)")
        if let slice = dropoutHeads {
            try check(slice.first >= 0 && slice.first + heads <= slice.total, op,
                      "heads \(slice.first)..<\(slice.first + heads) are not a slice of \(slice.total) heads")
        }
        if q >= attentionByHeadsMinQueries && backend is OneDNNBackend {
            return try attentionByHeads(query: query, key: key, value: value, batch: b, heads: heads, hidden: hidden,
                                        queryLength: q, keyLength: k, mask: mask, maskBatch: bm, scale: scale,
                                        dropout: p, dropoutHeads: dropoutHeads, started: started)
        }

        let sq = query.headStrides(headDim: d), sk = key.headStrides(headDim: d), sv = value.headStrides(headDim: d)
        let qPtr = { query.variable.value.floats + query.elementOffset }
        let kPtr = { key.variable.value.floats + key.elementOffset }
        let vPtr = { value.variable.value.floats + value.elementOffset }
        let sS = MatrixStrides(batch0: heads * q * k, batch1: q * k, row: k, col: 1)
        let sCtx = MatrixStrides(batch0: q * hidden, batch1: d, row: hidden, col: 1)

        // scores → probabilities (in place)
        let probs = Tensor(uninitialized: [b, heads, q, k])
        try stridedProduct(batch: b, batch1: heads, m: q, n: k, k: d, a: (UnsafeRawPointer(qPtr()), sq),
                           b: (UnsafeRawPointer(kPtr()), sk.transposed), c: (probs.floats, sS), beta: 0)
        glmk_masked_softmax_forward(probs.floats, probs.floats, mask.floats, b, heads, q, k, bm, scale)
        // Attention dropout (the original's attention_dropout on the probabilities): P' = dropout(P) feeds
        // the product with V; P itself is kept for the softmax backward. The mask is regenerated from the
        // counter-based stream in backward, so nothing but P' is stored.
        let dropping = training && p > 0
        let slice = dropoutHeads ?? HeadSlice(first: 0, total: heads)
        let dropSeed = dropoutSeed, dropOffset = dropping ? takeDropoutPositions(b * slice.total * q * k) : dropoutOffset
        // Each batch row's heads are one contiguous block of the stream (all heads' block without a slice).
        let rowElements = heads * q * k
        let dropRows: [(at: Int, offset: UInt64)] = (0..<b).map { (i: Int) -> (at: Int, offset: UInt64) in
            let stream: Int = (i * slice.total + slice.first) * q * k
            return (at: i * rowElements, offset: dropOffset + UInt64(stream))
        }
        var used = probs
        if dropping {
            used = Tensor(uninitialized: probs.shape)
            for r in dropRows { glmk_dropout_forward(used.floats + r.at, probs.floats + r.at, rowElements, p, dropSeed, r.offset) }
        }
        let ctx = Tensor(uninitialized: [b, q, hidden])
        try stridedProduct(batch: b, batch1: heads, m: q, n: d, k: k, a: (UnsafeRawPointer(used.floats), sS),
                           b: (UnsafeRawPointer(vPtr()), sv), c: (ctx.floats, sCtx), beta: 0)

        // Work: two products forward, up to four backward (2·q·k·d FLOPs each per (batch, head)).
        let product = 2 * Double(b * heads) * Double(q) * Double(k) * Double(d)
        let backwardProducts = 1 + ops.filter { $0.variable.requiresGrad }.count
        return output(ctx, op, inputs: [query.variable, key.variable, value.variable], started: started,
                      detail: "b\(b) heads \(heads) \(Self.queryKeyDetail(q, k)) d\(d)", work: OpWork(flops: 2 * product),
                      backwardWork: OpWork(flops: Double(backwardProducts) * product)) { [unowned self] _, dctx in
            let targets = Self.gradientTargets(ops, hidden: hidden, q: q, k: k)
            let dP = Tensor(uninitialized: [b, heads, q, k])
            try self.stridedProduct(batch: b, batch1: heads, m: q, n: k, k: d, a: (UnsafeRawPointer(dctx.floats), sCtx),
                                    b: (UnsafeRawPointer(vPtr()), sv.transposed), c: (dP.floats, sS), beta: 0)
            if let (gv, beta) = targets[2] {
                try self.stridedProduct(batch: b, batch1: heads, m: k, n: d, k: q,
                                        a: (UnsafeRawPointer(used.floats), sS.transposed),
                                        b: (UnsafeRawPointer(dctx.floats), sCtx), c: (gv, sv), beta: beta)
            }
            if dropping {
                for r in dropRows { glmk_dropout_backward(dP.floats + r.at, dP.floats + r.at, rowElements, p, dropSeed, r.offset) }
            }
            glmk_masked_softmax_backward(dP.floats, dP.floats, probs.floats, mask.floats, b, heads, q, k, bm, scale)
            if let (gq, beta) = targets[0] {
                try self.stridedProduct(batch: b, batch1: heads, m: q, n: d, k: k, a: (UnsafeRawPointer(dP.floats), sS),
                                        b: (UnsafeRawPointer(kPtr()), sk), c: (gq, sq), beta: beta)
            }
            if let (gk, beta) = targets[1] {
                try self.stridedProduct(batch: b, batch1: heads, m: k, n: d, k: q,
                                        a: (UnsafeRawPointer(dP.floats), sS.transposed),
                                        b: (UnsafeRawPointer(qPtr()), sq), c: (gk, sk), beta: beta)
            }
        }
    }

    /// The batch size of an attention mask [1 or b, (1,) q, k] (float32), checked.
    func attentionMaskBatch(_ mask: Tensor, batch b: Int, queryLength q: Int, keyLength k: Int, op: String) throws -> Int {
        let mshape = mask.rank == 4 && mask.shape[1] == 1 ? [mask.shape[0], mask.shape[2], mask.shape[3]] : mask.shape
        try check(mask.dtype == .float32 && mshape.count == 3 && (mshape[0] == 1 || mshape[0] == b)
                  && mshape[1] == q && mshape[2] == k, op,
                  "mask must be float32 [1 or \(b), q \(q), k \(k)] (or with a singleton head axis), got \(mask)")
        return mshape[0]
    }

    /// Where dQ, dK, dV go (pointer to the block's first element, GEMM beta) — nil if no gradient needed.
    /// Blocks of one variable that tile it completely (GLM's fused QKV without memories) are WRITTEN into a
    /// fresh gradient buffer (beta 0); anything else accumulates into an existing or zero-filled buffer.
    static func gradientTargets(_ ops: [AttentionOperand], hidden: Int, q: Int, k: Int)
        -> [(UnsafeMutablePointer<Float>, Float)?] {
        var result: [(UnsafeMutablePointer<Float>, Float)?] = [nil, nil, nil]
        var done = Set<ObjectIdentifier>()
        for o in ops where o.variable.requiresGrad {
            let id = ObjectIdentifier(o.variable)
            if done.contains(id) { continue }
            done.insert(id)
            let sharing = ops.indices.filter { ObjectIdentifier(ops[$0].variable) == id }
            let columns = Set(sharing.map { ops[$0].column })
            var tiles = columns.count == sharing.count && sharing.count * hidden == o.width
                && columns.allSatisfy { $0 % hidden == 0 }
            for j in sharing where ops[j].firstRow != 0 || (j == 0 ? q : k) != o.rows { tiles = false }
            let v = o.variable
            let grad: Tensor, beta: Float
            if tiles && v.gradStorage == nil && v.viewBase == nil {
                let (g, acc) = v.gradTarget()
                grad = g; beta = acc ? 1 : 0
            } else {
                grad = v.zeroedGrad(); beta = 1
            }
            for j in sharing { result[j] = (grad.floats + ops[j].elementOffset, beta) }
        }
        return result
    }
}
