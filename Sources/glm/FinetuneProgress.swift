import Foundation
import GLMTasks
import GLMTraining

/// What `glm finetune` shows and logs while it runs, for every task kind: a progress line per step on
/// stderr (rewritten in place on a terminal, every 10th step in plain logs) with rate and ETA, a line per
/// epoch with the dev metrics, and the same as JSON lines in `--log`.
final class FinetuneProgress {
    private let log: TrainingLog?
    /// False on the ranks other than 0 of `mpirun`: nothing is shown or logged.
    private let speaks: Bool
    private let err = FileHandle.standardError
    private let interactive = isatty(STDERR_FILENO) != 0
    private let started = DispatchTime.now().uptimeNanoseconds
    private var samplesDone = 0, stepsDone = 0

    init(log: TrainingLog?, speaks: Bool = true) { self.log = log; self.speaks = speaks }

    /// Where a run to `save` keeps its end-of-epoch checkpoint (`save.checkpoint`), with `--resume` checked
    /// (a checkpoint must be there) or a stale one removed, and the progress reporter over `--log`.
    /// `isRoot` false (ranks 1… of `mpirun`): the checkpoint is only read, and the reporter is silent.
    static func start(save: String, resume: Bool, log: String?, isRoot: Bool = true) throws -> (checkpoint: String, progress: FinetuneProgress) {
        let checkpoint = (save as NSString).standardizingPath + ".checkpoint"
        let position = try SuperGLUEFinetuner.checkpointPosition(checkpoint)
        if resume && position == nil { throw TaskDataError(file: checkpoint, line: 0, reason: "--resume: no checkpoint here") }
        guard isRoot else { return (checkpoint, FinetuneProgress(log: nil, speaks: false)) }
        if !resume && FileManager.default.fileExists(atPath: checkpoint) { try FileManager.default.removeItem(atPath: checkpoint) }
        let logFile = try log.map { try TrainingLog(path: $0, resumingAtStep: resume ? position?.step : nil) }
        let progress = FinetuneProgress(log: logFile)
        if resume, let position { progress.say("resuming after step \(position.step) (epoch \(position.epoch) finished) from \(checkpoint)") }
        return (checkpoint, progress)
    }

    func say(_ s: String) { if speaks { err.write(Data((s + "\n").utf8)) } }

    func handle(_ event: FinetuneEvent) {
        guard speaks else { return }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        switch event {
        case .step(let r):
            samplesDone += r.samples
            stepsDone += 1
            let rate = elapsed > 0 ? Double(samplesDone) / elapsed : 0
            let eta = Double(r.totalSteps - r.step) * elapsed / Double(stepsDone)
            let line = String(format: "epoch %d step %d/%d  loss %.4f  lr %.3e  grad %.3f  %.1f samples/s  ETA %@",
                              r.epoch, r.step, r.totalSteps, r.loss, r.learningRate, r.gradNorm, rate,
                              TrainingProgress.duration(eta)) + (r.skipped ? "  (skipped: non-finite)" : "")
            if interactive { err.write(Data(("\r\u{1B}[K" + line).utf8)) }
            else if r.step % 10 == 0 || r.step == r.totalSteps || r.skipped { say(line) }
            log?.write([("step", .int(r.step)), ("epoch", .int(r.epoch)), ("loss", .double(r.loss)),
                        ("lr", .double(r.learningRate)), ("grad_norm", .double(r.gradNorm)), ("samples", .int(r.samples)),
                        ("step_s", .double((r.seconds * 1000).rounded() / 1000)), ("elapsed_s", .double((elapsed * 10).rounded() / 10))]
                       + (r.skipped ? [("skipped", .bool(true))] : []))
        case .epoch(let r):
            if interactive { err.write(Data("\n".utf8)) }
            let metrics = r.metrics.map { "\($0.name) \(String(format: "%.4f", $0.value))" }.joined(separator: ", ")
            let dev = r.metrics.isEmpty ? "dev not evaluated (--eval-epochs)" : "dev \(metrics)"
            say("epoch \(r.epoch): train loss \(String(format: "%.4f", r.trainLoss)), \(dev)\(r.isBest ? "  (best)" : "")")
            var fields: [(String, LogValue)] = [("event", .string("epoch")), ("epoch", .int(r.epoch)), ("train_loss", .double(r.trainLoss))]
            for m in r.metrics { fields.append((m.name, .double(m.value))) }
            fields.append(("best", .bool(r.isBest)))
            log?.write(fields)
        }
    }
}
