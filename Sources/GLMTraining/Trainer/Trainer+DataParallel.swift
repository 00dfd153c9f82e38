// One optimizer step of data-parallel training: the same numbers as one process on the global batch.
import Foundation
import GLMEngine

extension Trainer {
    /// `trainStep` on this rank's rows of each global micro-batch (see `DataParallel`). Micro-batches are
    /// kept or dropped by the GLOBAL batch, exactly as one process drops them, so micro-batch `j` gets the
    /// same dropout stream as there, and `DropoutRows` places this rank's rows inside it.
    func dataParallelStep(_ k: Int, _ dp: DataParallel, start: UInt64) throws -> StepResult {
        let global = try blockBatches(step: k).filter { $0.batchSize > 0 && $0.lossTokenCount > 0 }
        let perRank = spec.batchSize / dp.size
        let tokens = global.reduce(0) { $0 + $1.rows.reduce(0) { $0 + $1.count } }
        let total = global.reduce(0) { $0 + $1.lossMask.reduce(0) { $0 + ($1 != 0 ? 1 : 0) } }
        let lr = spec.schedule.rate(forStep: k)
        let parameters = model.parameters
        for p in parameters { p.zeroGrad() }
        // This rank's rows of each kept micro-batch (j: the micro-batch's index, which picks its dropout stream).
        // `--short-seq-prob` can split samples into MORE rows than the batch size: then every rank takes an
        // equal contiguous share (rounded up), so that no row is left out.
        let mine: [(j: Int, rows: Range<Int>, global: Int, batch: BlockBatch)] = global.enumerated().compactMap { j, batch in
            let rows = dp.rows(globalRows: batch.batchSize, perRank: Swift.max(perRank, (batch.batchSize + dp.size - 1) / dp.size))
            guard !rows.isEmpty else { return nil }
            let part = BlockBatch(rows: Array(batch.rows[rows]), mode: batch.mode, minimumLength: batch.length)
            return part.lossTokenCount > 0 ? (j, rows, batch.batchSize, part) : nil   // no loss here: nothing to add
        }
        // A data-parallel group of one (all ranks in one model-parallel group) has no gradients to sum.
        let summing = dp.size > 1
        let reduction = summing ? dp.overlappedReduction(parameters) : nil
        reduction?.begin()
        var hookError: Error?
        var lossSum = 0.0, finite = total > 0
        for (n, part) in mine.enumerated() where finite {
            let inputs = try ModelBatch(part.batch)
            let tape = Tape(recording: true, training: true, backend: backend,
                            dropoutSeed: Self.dropoutSeed(runSeed: spec.seed, step: k, micro: part.j))
            tape.dropoutRows = DropoutRows(first: part.rows.lowerBound, local: part.rows.count, global: part.global)
            if let reduction, n == mine.count - 1 {   // the last backward of the step finishes the gradients
                tape.onParameterGradientsFinal = { ps in
                    do { try reduction.parametersFinal(ps) } catch { if hookError == nil { hookError = error } }
                }
            }
            let share = Double(inputs.lossTokens) / Double(total)
            let value = try stepper.accumulate(on: tape, seed: Float(share), loss: { try model.blankInfillingLoss(inputs, tape: $0) })
            if let hookError { throw hookError }
            guard let value else { finite = false; break }
            lossSum += Double(value) * share
        }
        try reduction?.finish()
        // One small all-reduce: the loss of the global batch, and whether any rank saw a non-finite loss.
        let reduced = try dp.sum([lossSum, finite ? 0 : 1])
        finite = reduced[1] == 0
        var norm = Double.nan
        if finite {
            if reduction == nil && summing { try dp.allReduceGradients(parameters) }
            if let sharded = shardedOptimizer {
                let clip = spec.optimizer.clipGrad
                let (n, scale) = try clippedNorm(model, parameters, clip: clip)
                norm = n
                if n.isFinite {
                    sharded.step(learningRate: Float(lr), gradScale: scale)
                    try dp.gatherParameters(parameters)
                }
            } else {
                norm = try stepper.updateModel(learningRate: lr)
            }
            finite = norm.isFinite
        }
        step = k
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return StepResult(step: k, loss: finite ? reduced[0] : .nan, learningRate: lr, gradNorm: norm, tokens: tokens,
                          lossTokens: total, seconds: seconds, skipped: !finite)
    }

    /// Global rank 0 of the job (with tensor model parallelism data-parallel rank 0 is one process per
    /// model-parallel rank; only one of them prints, logs and writes the pointer). One process: true.
    public var isGlobalRoot: Bool { (dataParallel?.rank ?? 0) == 0 && (model.modelParallel?.rank ?? 0) == 0 }

    /// A barrier over every rank of the job: the data-parallel group's, then one tiny sum over the
    /// model-parallel group. WHY that is enough: every data-parallel group has a member in this rank's
    /// model-parallel group, so when the sum returns, every rank of every group has arrived.
    public func jobBarrier() throws {
        try dataParallel?.group.barrier()
        if let mp = model.modelParallel {
            var one: [Float] = [1]
            try one.withUnsafeMutableBufferPointer { try mp.allReduceSum($0) }
        }
    }

    /// The largest of `value` over every rank of the job (data-parallel group, then model-parallel group).
    public func jobMax(_ value: Double) throws -> Double {
        var v = try dataParallel?.max([value])[0] ?? value
        if let mp = model.modelParallel {
            var f = [Float(v)]
            try f.withUnsafeMutableBufferPointer { try mp.allReduceMax($0) }
            v = Double(f[0])
        }
        return v
    }

    /// The AdamW moments a checkpoint stores, in parameter order: assembled from every rank's share under
    /// ZeRO-1 (a collective call: every rank must make it), else the optimizer's own.
    public func checkpointMoments() throws -> (expAvg: [Tensor], expAvgSq: [Tensor]) {
        if let dp = dataParallel, let sharded = shardedOptimizer { return try dp.gatherMoments(sharded) }
        return (optimizer.exp_avg, optimizer.exp_avg_sq)
    }
}
