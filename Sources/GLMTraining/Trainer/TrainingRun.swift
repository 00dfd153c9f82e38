// The outer loop of `glm pretrain`: steps, periodic validation, checkpoints, logging, graceful stop.
import Foundation

/// How a run is driven (none of this changes the numbers it computes).
public struct RunOptions: Codable, Sendable, Equatable {
    /// Train until this many optimizer steps are done in total.
    public var steps: Int
    /// Validate every this many steps (0: never) on the first `evalIters` validation batches.
    public var evalInterval: Int
    public var evalIters: Int
    /// Save every this many steps (0: only at the end); needs a store.
    public var saveInterval: Int

    public init(steps: Int, evalInterval: Int = 0, evalIters: Int = 10, saveInterval: Int = 0) {
        self.steps = steps; self.evalInterval = evalInterval; self.evalIters = evalIters; self.saveInterval = saveInterval
    }
}

/// What a run did.
public struct RunSummary: Sendable {
    public var results: [StepResult] = []
    public var validLosses: [(step: Int, loss: Double)] = []
    /// The signal that stopped the run early, if any.
    public var stoppedBy: Int32?
    public var lastCheckpoint: String?
    public var seconds = 0.0
    public var finalStep = 0
}

public final class TrainingRun {
    public let trainer: Trainer
    public let options: RunOptions
    public let store: CheckpointStore?
    public let log: TrainingLog?
    public let progress: TrainingProgress?
    public let stop: StopSignal?
    /// Called after every step (after logging and saving); tests use it to request a stop mid-run.
    public var onStep: ((StepResult) -> Void)?

    public init(trainer: Trainer, options: RunOptions, store: CheckpointStore? = nil, log: TrainingLog? = nil,
                progress: TrainingProgress? = nil, stop: StopSignal? = nil) {
        self.trainer = trainer; self.options = options; self.store = store; self.log = log
        self.progress = progress; self.stop = stop
    }

    /// Runs until `options.steps` or a stop request; saves at save intervals and at the end (also after a
    /// stop), so a stopped run can be resumed.
    public func run() throws -> RunSummary {
        var summary = RunSummary()
        let begin = DispatchTime.now().uptimeNanoseconds
        func elapsed() -> Double { Double(DispatchTime.now().uptimeNanoseconds - begin) / 1e9 }
        var recent: [(tokens: Int, seconds: Double)] = []
        var savedStep: Int?
        var lastValidStep: Int?
        while trainer.step < options.steps {
            if let sig = try stopSignal() { summary.stoppedBy = sig; break }
            let r = try trainer.trainStep()
            summary.results.append(r)
            recent.append((r.tokens, r.seconds))
            if recent.count > 20 { recent.removeFirst() }
            let window = recent.reduce((0, 0.0)) { ($0.0 + $1.tokens, $0.1 + $1.seconds) }
            let rate = window.1 > 0 ? Double(window.0) / window.1 : 0
            let eta = window.1 / Double(recent.count) * Double(options.steps - r.step)
            var valid: Double?
            if options.evalInterval > 0 && r.step % options.evalInterval == 0 {
                valid = try trainer.validationLoss(iterations: options.evalIters)
                lastValidStep = r.step
                if let v = valid { summary.validLosses.append((r.step, v)) }
            }
            log?.write(TrainingLog.stepFields(r, tokensPerSecond: r.seconds > 0 ? Double(r.tokens) / r.seconds : 0,
                                              elapsed: elapsed(), validLoss: valid))
            progress?.step(r, totalSteps: options.steps, tokensPerSecond: rate, eta: eta)
            if let v = valid { progress?.message(String(format: "step %d: validation loss %.4f (perplexity %.2f)", r.step, v, exp(v))) }
            if let store, options.saveInterval > 0, r.step % options.saveInterval == 0 {
                summary.lastCheckpoint = try save(store)
                savedStep = r.step
            }
            onStep?(r)
        }
        if summary.stoppedBy == nil, trainer.step >= options.steps, options.evalInterval > 0, lastValidStep != trainer.step,
           let v = try trainer.validationLoss(iterations: options.evalIters) {
            summary.validLosses.append((trainer.step, v))
            log?.write([("event", .string("final_validation")), ("step", .int(trainer.step)), ("valid_loss", .double(v))])
            progress?.message(String(format: "step %d: validation loss %.4f (perplexity %.2f)", trainer.step, v, exp(v)))
        }
        if let store, savedStep != trainer.step {
            summary.lastCheckpoint = try save(store)
        }
        if let sig = summary.stoppedBy {
            log?.write([("event", .string("stopped")), ("step", .int(trainer.step)), ("signal", .int(Int(sig)))])
        }
        summary.seconds = elapsed()
        summary.finalStep = trainer.step
        return summary
    }

    /// The stop request; with data parallelism, any rank's (one tiny all-reduce), so that every rank stops
    /// after the same step and the checkpoint is consistent.
    private func stopSignal() throws -> Int32? {
        let local = stop?.isRequested == true ? stop?.receivedSignal : nil  // isRequested also announces it
        guard trainer.dataParallel != nil else { return local }
        let any = try trainer.jobMax(Double(local ?? 0))
        return any > 0 ? Int32(any) : nil
    }

    /// Writes a checkpoint. With data parallelism every rank calls this (ZeRO-1 moments are gathered from
    /// all ranks), global rank 0 alone writes, and the others wait at a barrier until the checkpoint and
    /// its pointer are complete.
    private func save(_ store: CheckpointStore) throws -> String {
        if let dp = trainer.dataParallel {
            let moments = try trainer.checkpointMoments()
            if trainer.model.modelParallel != nil {
                // Each model-parallel rank writes its partition (CheckpointStore+ModelParallel.swift).
                let folder = try store.saveModelParallel(trainer, run: options, moments: moments, writes: dp.rank == 0,
                                                         root: trainer.isGlobalRoot, barrier: trainer.jobBarrier)
                if trainer.isGlobalRoot { record(folder) }
                return folder
            }
            var folder = (store.directory as NSString).appendingPathComponent(CheckpointStore.folderName(step: trainer.step))
            if dp.rank == 0 { folder = try store.save(trainer, run: options, moments: moments) }
            try dp.group.barrier()
            if dp.rank == 0 { record(folder) }
            return folder
        }
        let folder = try store.save(trainer, run: options)
        record(folder)
        return folder
    }

    private func record(_ folder: String) {
        log?.write([("event", .string("checkpoint")), ("step", .int(trainer.step)), ("path", .string(folder))])
        progress?.message("step \(trainer.step): saved \(folder)")
    }
}
