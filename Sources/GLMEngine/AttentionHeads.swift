import CGLMOneDNN
import CGLMKernels

extension Tape {
    /// `attention` one (batch, head) at a time (C: glmk_attention_heads_*): each head's Q×K scores are
    /// computed, soft-maxed (and dropped out) and multiplied by V while they are still in the core's cache,
    /// and the heads are split over the threads, with single-threaded oneDNN sgemm calls per head.
    ///
    /// Why: as three batched products over all heads, every pass over the [b, heads, q, k] scores goes
    /// through memory, and oneDNN's batched matmul takes a slower path for column blocks of the fused QKV
    /// tensor; per head, sgemm reads those blocks in place (row stride 3h). Measured with `glm bench
    /// profile` at GLM-base shapes: attention forward+backward per layer 8.2 + 18.8 ms batched, 8.1 + 16.1 ms
    /// by heads (min of 15, interleaved). Same function, same stored tensors (P and,
    /// with dropout, P'), same dropout masks (element-indexed counter stream) as the batched path.
    func attentionByHeads(query: AttentionOperand, key: AttentionOperand, value: AttentionOperand, batch b: Int,
                          heads: Int, hidden: Int, queryLength q: Int, keyLength k: Int, mask: Tensor, maskBatch bm: Int,
                          scale: Float, dropout p: Float, dropoutHeads: HeadSlice?, started: Profiler.Token?) throws -> Variable {
        let op = "attention"
        let ops = [query, key, value]
        let d = hidden / heads
        let dropping = training && p > 0
        var args = glmk_attention_args()
        args.B = b; args.H = heads; args.Q = q; args.K = k; args.D = d
        args.q = UnsafePointer(query.variable.value.floats + query.elementOffset)
        args.k = UnsafePointer(key.variable.value.floats + key.elementOffset)
        args.v = UnsafePointer(value.variable.value.floats + value.elementOffset)
        args.q_batch = query.rows * query.width; args.q_row = query.width
        args.k_batch = key.rows * key.width; args.k_row = key.width
        args.v_batch = value.rows * value.width; args.v_row = value.width
        args.ctx_batch = q * hidden; args.ctx_row = hidden
        args.mask = UnsafePointer(mask.floats); args.Bm = bm
        args.scale = scale
        args.dropout_p = dropping ? p : 0
        let streamHeads = dropoutHeads?.total ?? heads
        args.seed = dropoutSeed; args.offset = dropping ? takeDropoutPositions(b * streamHeads * q * k) : dropoutOffset
        if let slice = dropoutHeads { args.dropout_H = slice.total; args.dropout_h0 = slice.first }
        args.gemm = glmd_sgemm
        // bf16 compute: each head's operands are rounded into per-thread dense bf16 scratch right before its
        // products (nothing extra is stored for backward: Q, K, V are rounded again there).
        let bf16 = compute == .bfloat16
        if bf16 { args.gemm_bf16 = glmd_gemm_bf16_ld }
        let bf16Scratch = { () -> Tensor? in
            guard bf16 else { return nil }
            return Tensor(uninitialized: [max(Runtime.threads, 1), glmk_attention_bf16_slot(q, k, d)], dtype: .bfloat16)
        }

        let probs = Tensor(uninitialized: [b, heads, q, k])
        let dropped = dropping ? Tensor(uninitialized: [b, heads, q, k]) : nil
        let ctx = Tensor(uninitialized: [b, q, hidden])
        let forwardScratch = bf16Scratch()
        args.bf16_scratch = forwardScratch?.bf16; args.bf16_slots = forwardScratch?.shape[0] ?? 0
        try withExtendedLifetime(forwardScratch) {
            try Self.checkHeads(glmk_attention_heads_forward(&args, probs.floats, dropped?.floats, ctx.floats), "forward")
        }
        args.bf16_scratch = nil; args.bf16_slots = 0

        let product = 2 * Double(b * heads) * Double(q) * Double(k) * Double(d)
        let backwardProducts = 1 + ops.filter { $0.variable.requiresGrad }.count
        return output(ctx, op, inputs: ops.map(\.variable), started: started,
                      detail: "b\(b) heads \(heads) q\(q) k\(k) d\(d)\(bf16 ? " bf16" : "")", work: OpWork(flops: 2 * product),
                      backwardWork: OpWork(flops: Double(backwardProducts) * product)) { _, dctx in
            let targets = Self.gradientTargets(ops, hidden: hidden, q: q, k: k)
            let slots = max(Runtime.threads, 1)
            let scratch = Tensor(uninitialized: [slots, q * k])
            var a = args
            let backwardScratch = bf16Scratch()
            a.bf16_scratch = backwardScratch?.bf16; a.bf16_slots = backwardScratch?.shape[0] ?? 0
            let rc = withExtendedLifetime((mask, ops.map(\.variable), backwardScratch)) {
                glmk_attention_heads_backward(&a, probs.floats, dropped?.floats, dctx.floats,
                                              targets[0]?.0, targets[0]?.1 ?? 0, targets[1]?.0, targets[1]?.1 ?? 0,
                                              targets[2]?.0, targets[2]?.1 ?? 0, scratch.floats, slots)
            }
            try Self.checkHeads(rc, "backward")
        }
    }

    static func checkHeads(_ rc: Int32, _ pass: String) throws {
        if rc != 0 {
            throw EngineError.backend(op: "attention (by heads, \(pass))",
                                      message: rc == -3 ? "fewer scratch slots than threads" : "a per-head sgemm failed (code \(rc))")
        }
    }
}
