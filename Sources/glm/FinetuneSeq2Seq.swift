import ArgumentParser
import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTasks
import GLMTraining

/// The seq2seq flags of `glm finetune` (each overrides the task's config_tasks/seq_*.sh value).
struct Seq2SeqFinetuneFlags: ParsableArguments {
    @Option(name: .customLong("src-seq-length"), help: "seq2seq: source tokens (cut and padded to it).") var srcSeqLength: Int?
    @Option(name: .customLong("tgt-seq-length"), help: "seq2seq: target tokens including eop (cut and padded to it).") var tgtSeqLength: Int?
    @Option(name: .customLong("eval-metric"), help: "seq2seq: rouge (dev ROUGE-1 by beam search; default) or loss (dev loss; blank's default).")
    var evalMetric: Seq2SeqEvalMetric?
    @Option(name: .customLong("num-beams"), help: "seq2seq: beams of the dev evaluation (default: the config's).") var numBeams: Int?
    @Option(name: .customLong("min-tgt-length"), help: "seq2seq: eop is blocked before this many tokens in the dev evaluation.") var minTgtLength: Int?
    @Option(name: .customLong("label-smoothing"), help: "seq2seq: label smoothing of the training loss (default 0.1, every config's).")
    var labelSmoothing: Double?
    @Flag(name: .customLong("mask-pad-token"), help: "customization: hide the source padding (the original's --mask-pad-token).")
    var maskPadToken = false
}

extension Seq2SeqEvalMetric: ExpressibleByArgument {}

/// The `--task` of `glm finetune`: a SuperGLUE task or a seq2seq one.
enum FinetuneTaskName: ExpressibleByArgument {
    case superglue(SuperGLUETask)
    case seq2seq(Seq2SeqTaskKind)

    init?(argument: String) {
        if let t = SuperGLUETask(rawValue: argument) { self = .superglue(t) }
        else if let k = Seq2SeqTaskKind(rawValue: argument) { self = .seq2seq(k) }
        else { return nil }
    }

    static var allValueStrings: [String] { SuperGLUETask.allCases.map(\.rawValue) + Seq2SeqTaskKind.allCases.map(\.rawValue) }

    /// The SuperGLUE task (seq2seq runs never reach the SuperGLUE code).
    var superglue: SuperGLUETask {
        if case .superglue(let t) = self { return t }
        return .copa
    }
}

/// `glm finetune --task cnn_dm_original|cnn_dm|xsum|gigaword|customization|blank`: `Seq2SeqFinetuner`
/// with the options of `scripts/finetune_seq2seq.sh` + `config_tasks/seq_<task>.sh`.
/// Reads DIR/train.* and DIR/val.* (the task's layout), writes OUT as a model folder.
extension FinetuneCommand {
    func runSeq2Seq(_ kind: Seq2SeqTaskKind, _ job: DistributedJob?) throws {
        let isRoot = job?.isRoot ?? true, dp = job?.dataParallel
        let o = try scheduleOverrides(FinetuneOptions.seq2seqDefaults(for: kind))
        try o.validate()
        if let n = seq2seqFlags.numBeams, n < 1 { throw ValidationError("--num-beams must be ≥ 1") }
        Runtime.setThreads(threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let (rankModel, tokenizer) = try loadRankModel(job)
        var spec = Seq2SeqTask.preset(kind, taskMask: tokenizer.hasTaskMask)
        if let s = seq2seqFlags.srcSeqLength { spec.srcSeqLength = s }
        if let t = seq2seqFlags.tgtSeqLength { spec.tgtSeqLength = t }
        if let n = seq2seqFlags.numBeams { spec.numBeams = n }
        if let n = seq2seqFlags.minTgtLength { spec.minTgtLength = n }
        if let seed { spec.seed = Int(truncatingIfNeeded: seed) }
        spec.maskPadToken = seq2seqFlags.maskPadToken
        let train = try Seq2SeqDataset(task: spec, split: .train, dataDirectory: data, tokenizer: tokenizer)
        let dev = try Seq2SeqData.examples(task: spec, split: .dev, dataDirectory: data, tokenizer: tokenizer)
        let finetuner = try Seq2SeqFinetuner(model: rankModel, tokenizer: tokenizer, train: train, dev: dev,
                                             options: o, evalMetric: seq2seqFlags.evalMetric, labelSmoothing: seq2seqFlags.labelSmoothing ?? 0.1,
                                             dataParallel: dp)
        let (checkpoint, progress) = try FinetuneProgress.start(save: save, resume: resume, log: log, isRoot: isRoot)
        func say(_ s: String) { progress.say(s) }
        finetuner.stepper.compute = try rankZeroCompute(try dtype.resolve(say: say), job)
        if let line = parallelDescription(job, batchSize: o.batchSize) { say(line) }
        say("glm finetune \(kind.rawValue): \(finetuner.trainSamples.count) train / \(dev.count) dev examples, \(o.epochs) epoch(s) × "
            + "\(finetuner.stepsPerEpoch) step(s) of \(finetuner.samplesPerStep) sample(s), lr \(o.learningRate), dev \(finetuner.evalMetric.rawValue), "
            + "\(Runtime.threads) thread(s)")
        let stop = stopSignal(isRoot: isRoot)
        let result = try finetuner.run(checkpoint: o.epochs > 0 ? checkpoint : nil, resume: resume, report: { progress.handle($0) },
                                       stop: { stop.isRequested })
        if let step = result.stoppedAfterStep { return say(stoppedMessage(step: step, checkpoint: checkpoint)) }
        guard let merged = try modelToSave(rankModel, job) else { return }
        try SuperGLUEFinetuner.save(merged, to: save, tokenizer: modelOptions.tokenizer)
        try? FileManager.default.removeItem(atPath: checkpoint)
        say("wrote \(save) (best epoch \(result.bestEpoch))")
        let metrics = result.metrics.map { "\(jsonString($0.name)): \($0.value)" }.joined(separator: ", ")
        print("{\"task\": \(jsonString(kind.rawValue)), \"best_epoch\": \(result.bestEpoch), \"metrics\": {\(metrics)}}")
    }
}
