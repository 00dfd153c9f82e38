// The ops of tensor model parallelism (the original's mpu/mappings.py, layers.py, cross_entropy.py):
// each a coarse tape op with a hand-written backward pass whose collectives mirror the forward's.
import CGLMKernels
import Foundation

extension Tape {
    /// mpu `copy_to_model_parallel_region`: identity forward (the output shares x's storage, no copy);
    /// backward sums the input gradient over the group. It stands before every column-parallel product:
    /// x is replicated, but each rank's product only yields its partition's share of dL/dx.
    /// The output must only be read (it is x's storage): feed it to products, not to in-place ops.
    public func copyToModelParallelRegion(_ x: Variable, group: any ModelParallelCollectives) throws -> Variable {
        let started = profileStart()
        try checkFloat(x, "copyToModelParallel", "input")
        return output(x.value, "copyToModelParallel", inputs: [x], started: started, detail: "\(x.shape)") { _, dy in
            try group.allReduceSum(UnsafeMutableBufferPointer(start: dy.floats, count: dy.count))
            Self.addGradient(dy, into: x)
        }
    }

    /// mpu `reduce_from_model_parallel_region`: forward sums x over the group (the partial products of a
    /// row-parallel layer); backward passes the gradient through unchanged (the output is replicated, so
    /// every rank already holds the whole gradient).
    public func reduceFromModelParallelRegion(_ x: Variable, group: any ModelParallelCollectives) throws -> Variable {
        let started = profileStart()
        try checkFloat(x, "reduceModelParallel", "input")
        let y = Tensor(uninitialized: x.shape)
        try y.copy(from: x.value)
        try group.allReduceSum(UnsafeMutableBufferPointer(start: y.floats, count: y.count))
        return output(y, "reduceModelParallel", inputs: [x], started: started, detail: "\(x.shape)") { _, dy in
            Self.addGradient(dy, into: x)
        }
    }

    /// mpu `ColumnParallelLinear` without gathering: y_r = x·W_rᵀ + b_r with this rank's output rows
    /// W_r [N/M, K], b_r [N/M]; x is replicated. The output stays partitioned (the next op is local).
    public func columnParallelLinear(_ x: Variable, weight: Variable, bias: Variable?,
                                     group: any ModelParallelCollectives) throws -> Variable {
        try linear(try copyToModelParallelRegion(x, group: group), weight: weight, bias: bias)
    }

    /// mpu `RowParallelLinear` on an already partitioned input: y = Σ_r x_r·W_rᵀ + b with this rank's
    /// input columns W_r [N, K/M]; the partial products are summed over the group, the (replicated) bias
    /// is added once, after the sum, as the original does.
    public func rowParallelLinear(_ x: Variable, weight: Variable, bias: Variable?,
                                  group: any ModelParallelCollectives) throws -> Variable {
        let reduced = try reduceFromModelParallelRegion(try linear(x, weight: weight), group: group)
        return try bias.map { try biasAdd(reduced, $0) } ?? reduced
    }

    /// mpu `VocabParallelEmbedding`: this rank's table holds rows `rank·V/M ..< (rank+1)·V/M` of the
    /// [V, C] embedding; ids outside that range give zero rows here, and the sum over the group gives
    /// every rank the full lookup. Backward: each rank scatter-adds the (replicated) output gradient into
    /// its own rows only.
    public func vocabParallelEmbedding(_ ids: Tensor, table: Variable, group: any ModelParallelCollectives) throws -> Variable {
        let op = "vocabParallelEmbedding"
        let started = profileStart()
        try check(ids.dtype == .int32, op, "ids must be int32, got \(ids.dtype)")
        try checkFloat(table, op, "table")
        try check(table.value.rank == 2, op, "table must be [V/M, C], got \(table.shape)")
        let local = table.shape[0], c = table.shape[1], first = group.rank * local, vocab = local * group.size
        let n = ids.count, p = ids.int32s
        for i in 0..<n where p[i] < 0 || Int(p[i]) >= vocab {
            throw EngineError.idOutOfRange(op: op, message: "id element \(i) is \(p[i]), the vocabulary has \(vocab) rows")
        }
        let y = Tensor(zeros: ids.shape + [c])
        let t = table.value.floats
        for i in 0..<n where Int(p[i]) - first >= 0 && Int(p[i]) - first < local {
            (y.floats + i * c).update(from: t + (Int(p[i]) - first) * c, count: c)
        }
        try group.allReduceSum(UnsafeMutableBufferPointer(start: y.floats, count: y.count))
        return output(y, op, inputs: [table], started: started, detail: "\(ids.shape) rows \(first)..<\(first + local)") { _, dy in
            // Read through `ids` (not `p`): the closure keeps the tensor alive; a caller's temporary ids
            // tensor would otherwise be freed after the forward pass (the cloze models build theirs per call).
            let p = ids.int32s
            let g = table.zeroedGrad().floats
            for i in 0..<n where Int(p[i]) - first >= 0 && Int(p[i]) - first < local {
                glmk_add_inplace(g + (Int(p[i]) - first) * c, dy.floats + i * c, c)
            }
        }
    }

    /// mpu `vocab_parallel_cross_entropy`: the masked mean cross-entropy Σ ce_i·mask_i / Σ mask_i over
    /// logits split along the vocabulary (this rank: columns `rank·V/M ..< (rank+1)·V/M` of [n, V]).
    /// Each rank runs the one-process kernel on its columns (targets elsewhere are "ignored" rows there),
    /// giving its log-Σ-exp ℓ_r; the group combines them as lse = m + log Σ_r exp(ℓ_r − m), m = max_r ℓ_r
    /// (one max, then one sum of 2n values that also carries the target logit, which only the rank holding
    /// the target contributes). Backward: the same kernel with the global lse, on this rank's columns:
    /// dL/dl_ij = dloss_i · (softmax_ij − [j is the target]), in place over the logits as `crossEntropy`.
    public func vocabParallelCrossEntropy(_ logits: Variable, targets: Tensor, lossMask: Tensor? = nil,
                                          group: any ModelParallelCollectives) throws -> CrossEntropyResult {
        let op = "vocabParallelCrossEntropy"
        let started = profileStart()
        try checkFloat(logits, op, "logits")
        let local = logits.shape.last ?? 0
        let n = logits.value.count / max(local, 1)
        let first = group.rank * local, vocab = local * group.size
        try check(targets.dtype == .int32 && targets.count == n, op, "targets \(targets) must be int32 with \(n) elements for logits \(logits.shape)")
        if let lossMask {
            try check(lossMask.dtype == .float32 && lossMask.count == n, op, "loss mask \(lossMask) must be float32 with \(n) elements")
        }
        let tp = targets.int32s
        for i in 0..<n where tp[i] < 0 || Int(tp[i]) >= vocab {
            throw EngineError.idOutOfRange(op: op, message: "target element \(i) is \(tp[i]), the vocabulary has \(vocab) entries")
        }
        // Targets in this rank's columns, −1 (ignored by the kernels) elsewhere.
        let localTargets = Tensor(uninitialized: [n], dtype: .int32)
        for i in 0..<n {
            let t = Int(tp[i]) - first
            localTargets.int32s[i] = t >= 0 && t < local ? Int32(t) : -1
        }
        let l = logits.value.floats
        let localLoss = Tensor(uninitialized: [n]), lse = Tensor(uninitialized: [n])
        glmk_cross_entropy_forward(localLoss.floats, lse.floats, l, localTargets.int32s, n, local)
        var maxima = Array(UnsafeBufferPointer(start: lse.floats, count: n))
        try maxima.withUnsafeMutableBufferPointer { try group.allReduceMax($0) }
        // [Σ_r exp(ℓ_r,i − m_i) for each i] then [target logit of row i]
        var sums = [Float](repeating: 0, count: 2 * n)
        for i in 0..<n {
            sums[i] = Foundation.exp(lse.floats[i] - maxima[i])
            let t = Int(localTargets.int32s[i])
            if t >= 0 { sums[n + i] = l[i * local + t] }
        }
        try sums.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
        let perToken = Tensor(uninitialized: Array(logits.shape.dropLast()))
        for i in 0..<n {
            lse.floats[i] = maxima[i] + Foundation.log(sums[i])
            perToken.floats[i] = lse.floats[i] - sums[n + i]
        }
        let (loss, maskSum) = try maskedMean(perToken, lossMask: lossMask, op: op)
        let out = output(loss, op, inputs: [logits], started: started, detail: "\(n)×\(local) of \(vocab)",
                         work: .floats(n * local, passes: 1), backwardWork: .floats(n * local, passes: 2)) { _, dy in
            let dloss = Self.maskedMeanBackward(dy, lossMask: lossMask, count: n, maskSum: maskSum)
            let tl = localTargets.int32s
            if logits.uses == 1 && logits.gradStorage == nil && logits.viewBase == nil {
                glmk_cross_entropy_backward_columns(l, l, lse.floats, tl, dloss.floats, n, local)   // in place, as crossEntropy
                logits.adoptGrad(logits.value)
            } else {
                logits.writeGrad { glmk_cross_entropy_backward_columns($0, l, lse.floats, tl, dloss.floats, n, local) }
            }
        }
        return CrossEntropyResult(loss: out, perToken: perToken, maskSum: maskSum)
    }

    /// Adds (or writes, when x has no gradient yet) dy into x's gradient.
    static func addGradient(_ dy: Tensor, into x: Variable) {
        let (g, accumulate) = x.gradTarget()
        if accumulate { glmk_add_inplace(g.floats, dy.floats, g.count) } else { g.floats.update(from: dy.floats, count: g.count) }
    }
}
