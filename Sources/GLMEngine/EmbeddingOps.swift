import CGLMKernels

extension Tape {
    /// y [ids.shape..., C] = table [V, C] rows picked by int32 `ids`; backward scatter-adds into the table.
    public func embedding(_ ids: Tensor, table: Variable) throws -> Variable {
        try embeddingSum([(ids, table)])
    }

    /// Σ_i table_i[ids_i]: GLM's word + position + block-position embeddings in one pass over the output.
    /// All id tensors have the same shape, all tables the same width C.
    public func embeddingSum(_ lookups: [(ids: Tensor, table: Variable)]) throws -> Variable {
        let op = "embedding"
        let started = profileStart()
        guard let first = lookups.first else { throw EngineError.invalidArgument(op: op, message: "no lookups") }
        let idShape = first.ids.shape
        let c = first.table.shape.last ?? 0
        for (i, l) in lookups.enumerated() {
            try check(l.ids.dtype == .int32, op, "ids #\(i) must be int32, got \(l.ids.dtype)")
            try check(l.ids.shape == idShape, op, "ids #\(i) have shape \(l.ids.shape), expected \(idShape)")
            try checkFloat(l.table, op, "table #\(i)")
            try check(l.table.value.rank == 2 && l.table.shape[1] == c, op,
                      "table #\(i) \(l.table.shape) must be [V, \(c)]")
        }
        let n = first.ids.count
        let y = Tensor(uninitialized: idShape + [c])
        for (i, l) in lookups.enumerated() {
            let v = l.table.shape[0]
            if glmk_embedding_forward(y.floats, l.ids.int32s, l.table.value.floats, n, c, v, i == 0 ? 0 : 1) != 0 {
                throw Self.badId(l.ids, v: v, op: op, which: i)
            }
        }
        // Bytes: each lookup reads n rows and writes (first) or updates the output; backward reads dy and
        // updates n rows of each table.
        let trained = lookups.filter { $0.table.requiresGrad }.count
        return output(y, op, inputs: lookups.map(\.table), started: started, detail: "\(lookups.count)×\(idShape)",
                      work: .floats(n * c, passes: 3 * lookups.count - 1),
                      backwardWork: .floats(n * c, passes: 3 * trained)) { _, dy in
            for l in lookups where l.table.requiresGrad {
                glmk_embedding_backward(l.table.zeroedGrad().floats, dy.floats, l.ids.int32s, n, c, l.table.shape[0])
            }
        }
    }

    static func badId(_ ids: Tensor, v: Int, op: String, which: Int) -> EngineError {
        let p = ids.int32s
        for i in 0..<ids.count where p[i] < 0 || Int(p[i]) >= v {
            return .idOutOfRange(op: op, message: "ids #\(which) element \(i) is \(p[i]), table has \(v) rows")
        }
        return .idOutOfRange(op: op, message: "ids #\(which) out of range for a table of \(v) rows")
    }
}

/// What `crossEntropy` returns: the masked mean loss (a scalar variable to call backward on) and the
/// unmasked per-token losses (for logging and parity checks).
public struct CrossEntropyResult {
    public let loss: Variable
    public let perToken: Tensor
    /// Σ mask (the denominator of the mean).
    public let maskSum: Double
}

extension Tape {
    /// Fused log-softmax + cross-entropy over logits [..., V] with int32 targets [...] and an optional float
    /// loss mask [...]: loss = Σ ce_i·mask_i / Σ mask_i (GLM's pretraining loss; mean over all rows if no mask).
    ///
    /// Memory: the backward pass computes softmax − onehot IN PLACE over the logits buffer and hands that
    /// buffer over as the logits' gradient, so no second [tokens × V] buffer ever exists. The logits' VALUES
    /// are therefore gone after backward. (If some other recorded op also reads the logits, a separate
    /// gradient buffer is used instead, so correctness never depends on that.)
    public func crossEntropy(_ logits: Variable, targets: Tensor, lossMask: Tensor? = nil) throws -> CrossEntropyResult {
        let op = "crossEntropy"
        let started = profileStart()
        try checkFloat(logits, op, "logits")
        let vocab = logits.shape.last ?? 0
        let n = logits.value.count / max(vocab, 1)
        try check(targets.dtype == .int32 && targets.count == n, op,
                  "targets \(targets) must be int32 with \(n) elements for logits \(logits.shape)")
        if let lossMask {
            try check(lossMask.dtype == .float32 && lossMask.count == n, op,
                      "loss mask \(lossMask) must be float32 with \(n) elements for logits \(logits.shape)")
        }
        let tp = targets.int32s
        for i in 0..<n where tp[i] < 0 || Int(tp[i]) >= vocab {
            throw EngineError.idOutOfRange(op: op, message: "target element \(i) is \(tp[i]), vocabulary has \(vocab) entries")
        }
        let perToken = Tensor(uninitialized: Array(logits.shape.dropLast()))
        let lse = Tensor(uninitialized: [n])
        glmk_cross_entropy_forward(perToken.floats, lse.floats, logits.value.floats, tp, n, vocab)
        let (loss, maskSum) = try maskedMean(perToken, lossMask: lossMask, op: op)
        let out = output(loss, op, inputs: [logits], started: started, detail: "\(n)×\(vocab)",
                         work: .floats(n * vocab, passes: 1), backwardWork: .floats(n * vocab, passes: 2)) { _, dy in
            let dloss = Self.maskedMeanBackward(dy, lossMask: lossMask, count: n, maskSum: maskSum)
            let lp = logits.value.floats, tp = targets.int32s
            if logits.uses == 1 && logits.gradStorage == nil && logits.viewBase == nil {
                glmk_cross_entropy_backward(lp, lp, lse.floats, tp, dloss.floats, n, vocab)
                logits.adoptGrad(logits.value)
            } else {
                logits.writeGrad { glmk_cross_entropy_backward($0, lp, lse.floats, tp, dloss.floats, n, vocab) }
            }
        }
        return CrossEntropyResult(loss: out, perToken: perToken, maskSum: maskSum)
    }
}

extension Tape {
    /// loss = Σ perToken_i·mask_i / Σ mask_i (all ones without a mask), summed in float64, and Σ mask.
    /// A mask summing to zero is an error: no token would contribute.
    func maskedMean(_ perToken: Tensor, lossMask: Tensor?, op: String) throws -> (loss: Tensor, maskSum: Double) {
        var total = 0.0, maskSum = 0.0
        for i in 0..<perToken.count {
            let w = lossMask.map { Double($0.floats[i]) } ?? 1
            total += Double(perToken.floats[i]) * w
            maskSum += w
        }
        guard maskSum != 0 else {
            throw EngineError.invalidArgument(op: op, message: "the loss mask sums to zero: no token contributes to the loss")
        }
        return (Tensor(scalar: Float(total / maskSum)), maskSum)
    }

    /// The gradient of `maskedMean` per token: dloss_i = upstream · mask_i / Σ mask.
    static func maskedMeanBackward(_ dy: Tensor, lossMask: Tensor?, count n: Int, maskSum: Double) -> Tensor {
        let upstream = Double(dy.floats[0])
        let dloss = Tensor(uninitialized: [n])
        for i in 0..<n {
            let w = lossMask.map { Double($0.floats[i]) } ?? 1
            dloss.floats[i] = Float(upstream * w / maskSum)
        }
        return dloss
    }
}
