// The optimizer side of a fine-tuning step, shared by the SuperGLUE and the seq2seq fine-tuners: one
// process, data parallel (mpirun), and data parallel with the AdamW moments sharded (--zero-stage 1); each
// also with the model split over a tensor-model-parallel group (--model-parallel-size).
import GLM
import GLMEngine
import GLMTraining

/// Updates the trained parameters once a step's micro-batches have added their gradients.
///
/// - One process: clip and AdamW (`TrainingStep.update`).
/// - Data parallel: first one small sum of the step's loss and of "was any loss non-finite", then the
///   gradients summed over the ranks (each rank's are already weighted by its share of the GLOBAL step),
///   then the same update on every rank.
/// - `zeroStage == 1` (ZeRO stage 1): each rank keeps AdamW moments only for its contiguous share of the
///   flat parameter elements (`ShardedAdamW`, which runs the same fused kernel on sub-ranges, so the shares
///   together equal one unsharded update bit for bit) and the updated values are all-gathered. The
///   stepper's own AdamW then holds no parameters, so the full moments are never allocated: memory per
///   rank falls with the number of ranks, which is what lets a model too big for one machine's optimizer
///   state be fine-tuned. Checkpoints still hold the FULL moments (gathered), so a run resumes on any
///   number of ranks, with or without sharding.
final class FinetuneUpdater {
    /// The parameters the steps update, in checkpoint order.
    let parameters: [Parameter]
    /// Runs forward/backward (`accumulate`) and, unsharded, the update; its `compute` picks bf16 or fp32.
    let stepper: TrainingStep
    let dataParallel: DataParallel?
    /// This rank's share of AdamW under ZeRO-1, else nil.
    let sharded: ShardedAdamW?

    init(model: GLMModel, parameters: [Parameter], spec: OptimizerSpec, learningRate: Double, dataParallel: DataParallel?) {
        self.parameters = parameters
        self.dataParallel = dataParallel
        if let dp = dataParallel, dp.zeroStage == 1 {
            let total = parameters.reduce(0) { $0 + $1.value.count }
            sharded = ShardedAdamW(parameters: parameters, range: dp.shard(total: total), beta1: Float(spec.beta1),
                                   beta2: Float(spec.beta2), eps: Float(spec.eps), weightDecay: Float(spec.weightDecay))
            stepper = TrainingStep(model: model, settings: spec, learningRate: learningRate, parameters: [])
        } else {
            sharded = nil
            stepper = TrainingStep(model: model, settings: spec, learningRate: learningRate, parameters: parameters)
        }
    }

    /// Marks the trained parameters' gradients as zero before a step's first backward pass (under ZeRO-1
    /// the stepper's AdamW holds no parameters, so they are zeroed here).
    func zeroGradients() {
        if sharded == nil { stepper.zeroGradients() } else { for p in parameters { p.zeroGrad() } }
    }

    /// AdamW's step counter (bias correction), sharded or not.
    var optimizerStep: Int64 { sharded?.step ?? stepper.optimizer.step }

    /// Ends a step whose micro-batches added `loss` (this rank's part of the step's loss) and their
    /// gradients. Returns the step's loss (over all ranks), the gradient norm before clipping, and
    /// whether the parameters were updated (not when any loss or the norm was non-finite).
    func finishStep(loss: Double, finite: Bool, learningRate lr: Double) throws -> (loss: Double, gradNorm: Double, updated: Bool) {
        var loss = loss, finite = finite
        if let dp = dataParallel {
            let reduced = try dp.sum([loss, finite ? 0 : 1])
            loss = reduced[0]; finite = reduced[1] == 0
            if finite { try dp.allReduceGradients(parameters) }
        }
        guard finite else { return (.nan, .nan, false) }
        // Tensor model parallelism: the norm is the whole model's (`clippedNorm`: the partitions' squares
        // summed over the model-parallel group, replicated parameters once), so every rank clips alike.
        let split = stepper.model.modelParallel != nil
        guard let sharded, let dp = dataParallel else {
            let norm = split ? try stepper.updateModel(learningRate: lr) : stepper.update(learningRate: lr)
            return (norm.isFinite ? loss : .nan, norm, norm.isFinite)
        }
        let clip = stepper.settings.clipGrad
        let (norm, scale) = split ? try clippedNorm(stepper.model, parameters, clip: clip)
            : clip > 0 ? clipGradNorm(parameters, maxNorm: Float(clip)) : (gradientNorm(parameters), 1)
        guard norm.isFinite else { return (.nan, norm, false) }
        sharded.step(learningRate: Float(lr), gradScale: scale)
        try dp.gatherParameters(parameters)
        return (loss, norm, true)
    }

    /// The full AdamW moments, one tensor per parameter, for a checkpoint. Under ZeRO-1 they are gathered
    /// from every rank's share: a collective call that EVERY rank must make.
    func moments() throws -> (expAvg: [Tensor], expAvgSq: [Tensor]) {
        if let sharded, let dp = dataParallel { return try dp.gatherMoments(sharded) }
        return (stepper.optimizer.exp_avg, stepper.optimizer.exp_avg_sq)
    }

    /// Whether `flag` is set on any rank of the job (data- and model-parallel groups): one decision for all,
    /// e.g. "stop here" when a signal reached only some ranks. Collective.
    func anyRank(_ flag: Bool) throws -> Bool {
        var count = flag ? 1.0 : 0
        if let dp = dataParallel { count = try dp.sum([count])[0] }
        if let group = stepper.model.modelParallel {
            var v = [count]
            try v.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
            count = v[0]
        }
        return count > 0
    }

    /// Puts full moments (as a checkpoint holds them) back: this rank's share under ZeRO-1, else all.
    func restore(step: Int64, expAvg: [Tensor], expAvgSq: [Tensor]) throws {
        if let sharded { try sharded.restore(step: step, expAvg: expAvg, expAvgSq: expAvgSq) }
        else { try stepper.optimizer.restore(step: step, expAvg: expAvg, expAvgSq: expAvgSq) }
    }
}
