import CGLMKernels

extension Tape {
    /// Inference attention of `queryLength` new tokens against keys and values kept in **bfloat16** (a
    /// decoding K/V cache in reduced precision): per head scores = Q·Kᵀ, P = masked softmax (exactly
    /// `attention`'s: (scores/√d)·mask − 65504·(1 − mask)), ctx = P·V, heads merged → [b, q, hidden].
    ///
    /// - query: float32 block (its column and first row as in `attention`), e.g. the Q columns of the fused
    ///   QKV output of the new tokens.
    /// - keys, values: bfloat16 [b, capacity, hidden] (heads side by side); rows 0..<keyLength are used.
    /// - mask: float32 [1 or b, (1,) q, keyLength].
    ///
    /// The bf16 elements are widened exactly and every product accumulates in fp32 (CGLMKernels'
    /// glm_attention_kv16.c), so this equals `attention` on the same keys and values widened to float32 up
    /// to summation order. No gradient: a decoding cache is never trained through.
    public func attentionBF16Cache(query: AttentionOperand, keys: Tensor, values: Tensor, heads: Int, hidden: Int,
                                   queryLength q: Int, keyLength k: Int, mask: Tensor) throws -> Variable {
        let op = "attentionBF16Cache"
        let started = profileStart()
        try check(!isRecording || !query.variable.requiresGrad, op, "inference only: the query must not need a gradient")
        try checkFloat(query.variable, op, "query")
        try check(query.variable.value.rank == 3 && query.column >= 0 && query.column + hidden <= query.width
                  && query.firstRow >= 0 && query.firstRow + q <= query.rows, op,
                  "query \(query.variable.shape) has no [\(q), \(hidden)] block at row \(query.firstRow), column \(query.column)")
        let b = query.variable.shape[0]
        for (t, name) in [(keys, "keys"), (values, "values")] {
            try check(t.dtype == .bfloat16 && t.rank == 3 && t.shape[0] == b && t.shape[2] == hidden && t.shape[1] >= k, op,
                      "\(name) must be bfloat16 [\(b), ≥ \(k), \(hidden)], got \(t)")
        }
        try check(heads > 0 && hidden % heads == 0, op, "hidden \(hidden) is not divisible by heads \(heads)")
        try check(q >= 1 && k >= q, op, "need 1 ≤ q ≤ k, got q \(q), k \(k)")
        let maskBatch = try attentionMaskBatch(mask, batch: b, queryLength: q, keyLength: k, op: op)
        let d = hidden / heads
        let width = query.width, rows = query.rows
        let qBase = UnsafePointer(query.variable.value.floats + query.elementOffset)
        let kvBatch = keys.shape[1] * hidden
        let probs = Tensor(uninitialized: [b, heads, q, k])
        glmk_attention_kv16_scores(probs.floats, qBase, rows * width, width, keys.bf16, kvBatch, b, heads, q, k, d)
        glmk_masked_softmax_forward(probs.floats, probs.floats, mask.floats, b, heads, q, k, maskBatch, 1 / Float(d).squareRoot())
        let ctx = Tensor(uninitialized: [b, q, hidden])
        glmk_attention_kv16_context(ctx.floats, probs.floats, values.bf16, kvBatch, b, heads, q, k, d)
        let flops = 4 * Double(b * heads) * Double(q) * Double(k) * Double(d)
        return output(ctx, op, inputs: [], started: started, detail: "b\(b) heads \(heads) \(Self.queryKeyDetail(q, k)) d\(d) bf16 K/V",
                      work: OpWork(flops: flops, bytes: 4 * Double(b * k * hidden))) { _, _ in }   // keys + values, 2 bytes each
    }
}

/// Rounds `count` floats to bfloat16 bits (round to nearest even, as `Tensor.toBFloat16`) on the calling
/// thread: for small row-sized writes such as a K/V cache append, where a parallel split would cost more
/// than the work.
public func storeBFloat16(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
    glmk_f32_to_bf16_rows(destination, source, 1, count, count)
}

/// Widens `count` bfloat16 values to float32 (exact).
public func widenBFloat16(_ source: UnsafePointer<UInt16>, into destination: UnsafeMutablePointer<Float>, count: Int) {
    glmk_bf16_to_f32(destination, source, count)
}
