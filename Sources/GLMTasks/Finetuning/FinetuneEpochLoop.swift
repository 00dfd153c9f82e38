// The epoch loop of a fine-tuning run, shared by the SuperGLUE and the seq2seq fine-tuners: they differ
// only in what one step trains on and how dev is scored.
import Foundation
import GLM
import GLMEngine

/// Epochs over the shuffled train split, steps of `samplesPerStep` samples, dev after the epochs
/// `options.evaluatesDev(after:)` names, the best epoch's weights kept, and (with a checkpoint folder) the
/// run's state saved after every epoch so that `--resume` continues with the same numbers.
///
/// Data parallel: every rank runs the loop (each step is a collective); rank 0 alone evaluates dev and
/// hands the others its decision ("is this epoch the best?") in a sum, and rank 0 alone writes the
/// checkpoint, after every rank has taken part in gathering the ZeRO-1 moments. Tensor model parallel:
/// the model-parallel group of data-parallel rank 0 evaluates together (every rank of it gets the same
/// metrics) and gathers the whole model for the checkpoint, which global rank 0 writes.
struct FinetuneEpochLoop {
    var options: FinetuneOptions
    var trainCount: Int
    var samplesPerStep: Int
    var totalSteps: Int
    /// What a checkpoint must match to be resumed (`runIdentity` of the fine-tuner).
    var runIdentity: String
    var model: GLMModel
    var updater: FinetuneUpdater
    /// Parameters whose best-epoch values are kept and restored at the end.
    var kept: [Parameter]
    /// Parameters every rank takes from rank 0 before the first step.
    var broadcast: [Parameter]

    /// Data-parallel rank 0: evaluates dev. With tensor model parallelism that is a whole model-parallel
    /// group (global ranks 0 ..< M), which scores collectively.
    var isRoot: Bool { (updater.dataParallel?.rank ?? 0) == 0 }
    /// Global rank 0: writes the checkpoint.
    var isWriter: Bool { isRoot && (model.modelParallel?.rank ?? 0) == 0 }

    typealias Metrics = [(name: String, value: Double)]

    /// - trainStep: one optimizer step over the train samples at these indices (step and epoch 1-based).
    /// - evaluate: dev metrics and the score that picks the best epoch (called on rank 0 only).
    /// - stop: asked after every step when the run has a checkpoint folder (e.g. "did SIGINT arrive?");
    ///   true on any rank (one tiny sum decides for all) ends the run there on every rank, with a checkpoint
    ///   of exactly that position (inside an epoch too: `PartialEpoch`) that `resume` continues with the same
    ///   numbers — on any number of ranks with the same global batch. Without a checkpoint folder (continuous
    ///   prompts) it is not asked.
    func run(checkpoint: String?, resume: Bool,
             trainStep: (_ indices: [Int], _ step: Int, _ epoch: Int) throws -> FinetuneStepReport,
             evaluate: () throws -> (metrics: Metrics, score: Double),
             report: (FinetuneEvent) throws -> Void,
             stop: (() -> Bool)? = nil) throws -> (bestEpoch: Int, metrics: Metrics, epochs: [FinetuneEpochReport], losses: [Double],
                                                   stoppedAfterStep: Int?) {
        var (best, epochs, losses, step, firstEpoch, partial) = try FinetuneCheckpoint.start(
            resume: resume, folder: checkpoint, run: runIdentity, model: model, optimizer: updater)
        // Every rank starts from rank 0's weights (a resumed run has read the same checkpoint on every rank).
        try updater.dataParallel?.broadcastParameters(broadcast)

        /// Writes the checkpoint at this position (rank 0), after every rank helped gather the ZeRO-1 moments.
        func save(finishedEpoch: Int, partial: FinetuneCheckpoint.PartialEpoch?) throws {
            guard let folder = checkpoint else { return }
            let moments = try updater.moments()   // collective under ZeRO-1: every rank takes part
            guard isRoot else { return }
            // Model parallel: the group of data-parallel rank 0 gathers the whole model for the writer.
            guard let whole = try FinetuneCheckpoint.whole(model: model, best: best, moments: moments, writer: isWriter) else { return }
            try FinetuneCheckpoint.saveRun(epoch: finishedEpoch, step: step, partial: partial, run: runIdentity, best: whole.best,
                                           epochs: epochs, losses: losses, model: whole.model, optimizerStep: updater.optimizerStep,
                                           moments: whole.moments, to: folder)
        }
        func stopping() throws -> Bool {
            guard checkpoint != nil, let stop else { return false }
            return try updater.anyRank(stop())   // one decision for all ranks
        }
        func stopped() -> (bestEpoch: Int, metrics: Metrics, epochs: [FinetuneEpochReport], losses: [Double], stoppedAfterStep: Int?) {
            (best?.epoch ?? 0, best?.metrics ?? [], epochs, losses, step)
        }

        if firstEpoch <= options.epochs {
            for epoch in firstEpoch...options.epochs {
                let start = DispatchTime.now().uptimeNanoseconds
                let resumed = partial?.epoch == epoch ? partial : nil
                let order = SuperGLUEFinetuner.order(count: trainCount, seed: options.seed, epoch: epoch)
                var sum = resumed?.lossSum ?? 0, counted = resumed?.lossCount ?? 0, stepsDone = resumed?.steps ?? 0
                var offset = stepsDone * samplesPerStep
                let earlierSeconds = resumed?.seconds ?? 0
                while offset < order.count {
                    let indices = Array(order[offset..<min(order.count, offset + samplesPerStep)])
                    offset += indices.count
                    step += 1; stepsDone += 1
                    let r = try trainStep(indices, step, epoch)
                    losses.append(r.loss)
                    if r.loss.isFinite { sum += r.loss; counted += 1 }
                    try report(.step(r))
                    if offset < order.count, try stopping() {
                        try save(finishedEpoch: epoch - 1, partial: .init(epoch: epoch, steps: stepsDone, lossSum: sum, lossCount: counted,
                                                                          seconds: earlierSeconds + SuperGLUEFinetuner.seconds(since: start)))
                        return stopped()
                    }
                }
                var metrics: Metrics = [], isBest = false
                if options.evaluatesDev(after: epoch) {
                    let eval = isRoot ? try evaluate() : (metrics: [], score: .nan)
                    metrics = eval.metrics
                    isBest = best == nil || eval.score > best!.score
                    if let dp = updater.dataParallel { isBest = try dp.sum([isRoot && isBest ? 1 : 0])[0] > 0 }
                    if isBest { best = (epoch, eval.score, eval.metrics, kept.map { $0.value.toFloats() }) }
                }
                let r = FinetuneEpochReport(epoch: epoch, trainLoss: counted > 0 ? sum / Double(counted) : .nan, metrics: metrics,
                                            isBest: isBest, seconds: earlierSeconds + SuperGLUEFinetuner.seconds(since: start))
                epochs.append(r)
                // Before the first evaluation there is no best epoch to record: the checkpoint starts with it
                // (unless the run stops here).
                let stopHere = epoch < options.epochs ? try stopping() : false
                if best != nil || stopHere { try save(finishedEpoch: epoch, partial: nil) }
                try report(.epoch(r))
                if stopHere { return stopped() }
            }
        }
        let kept = best!
        FinetuneCheckpoint.restoreWeights(kept.weights, into: self.kept)
        return (kept.epoch, kept.metrics, epochs, losses, nil)
    }
}
