import ArgumentParser
import Foundation
import GLM
import GLMGeneration
import GLMTasks

/// The seq2seq options of `glm evaluate` (each overrides the task's config; unset: the config's value).
struct Seq2SeqEvaluateOptions: ParsableArguments {
    @Option(help: "seq2seq: the split to evaluate, dev (val.*) or test (default).") var split: Seq2SeqSplit?
    @Option(name: .customLong("num-beams"), help: "seq2seq: beams (--num-beams).") var numBeams: Int?
    @Option(name: .customLong("no-repeat-ngram-size"), help: "seq2seq: no n-gram of this size repeats (0 = off).") var noRepeatNgramSize: Int?
    @Flag(name: .customLong("select-topk"), inversion: .prefixedNo,
          help: "seq2seq: take the 2·beams best candidates (--select-topk) or draw them (--no-select-topk).")
    var selectTopK: Bool?
    @Option(name: .customLong("min-tgt-length"), help: "seq2seq: eop is blocked before this many tokens.") var minTgtLength: Int?
    @Option(name: .customLong("tgt-seq-length"), help: "seq2seq: new tokens at most.") var tgtSeqLength: Int?
    @Option(name: .customLong("src-seq-length"), help: "seq2seq: source tokens (cut and padded to it).") var srcSeqLength: Int?
    @Flag(name: .customLong("mask-pad-token"), help: "customization: hide the source padding (the original's --mask-pad-token).")
    var maskPadToken = false
    @Option(name: .customLong("blank-maskratio"), help: "blank: the test file's mask ratio (blank/test.maskratio{ratio:.1f}.blank; default 0.1).")
    var blankMaskRatio: Double?
    @Option(help: "seq2seq: seed of the candidate draws without --select-topk (the original's --seed, default 1234).") var seed: Int?

    var isSet: Bool {
        split != nil || numBeams != nil || noRepeatNgramSize != nil || selectTopK != nil || minTgtLength != nil
            || tgtSeqLength != nil || srcSeqLength != nil || maskPadToken || seed != nil || blankMaskRatio != nil
    }

    /// The task preset with these overrides.
    func task(_ kind: Seq2SeqTaskKind, taskMask: Bool, lengthPenalty: Double?) -> Seq2SeqTask {
        var t = Seq2SeqTask.preset(kind, taskMask: taskMask, blankMaskRatio: blankMaskRatio ?? 0.1)
        if let numBeams { t.numBeams = numBeams }
        if let noRepeatNgramSize { t.noRepeatNgramSize = noRepeatNgramSize }
        if let selectTopK { t.selectTopK = selectTopK }
        if let minTgtLength { t.minTgtLength = minTgtLength }
        if let tgtSeqLength { t.tgtSeqLength = tgtSeqLength }
        if let srcSeqLength { t.srcSeqLength = srcSeqLength }
        if let lengthPenalty { t.lengthPenalty = lengthPenalty }
        if let seed { t.seed = seed }
        t.maskPadToken = maskPadToken
        return t
    }
}

extension Seq2SeqSplit: ExpressibleByArgument {}

/// `glm evaluate --task cnn_dm_original|cnn_dm|xsum|gigaword|customization|blank`: the original's seq2seq
/// fine-tuning evaluation (`tasks/seq2seq/evaluate.py DecoderEvaluater` + `rouge_metric`; blank:
/// `BlankLMEvaluater`, no metric).
extension EvaluateCommand {
    func runSeq2Seq() throws {
        guard let kind = task.seq2seq else { return }
        let split = seq2seq.split ?? .test
        guard split != .train else { throw ValidationError("--split: train samples are training samples; evaluate dev or test") }
        if let n = seq2seq.numBeams, n < 1 { throw ValidationError("--num-beams must be ≥ 1") }
        if let n = seq2seq.tgtSeqLength, n < 1 { throw ValidationError("--tgt-seq-length must be ≥ 1") }
        if let n = seq2seq.minTgtLength, n < 0 { throw ValidationError("--min-tgt-length must be ≥ 0") }
        if let n = seq2seq.noRepeatNgramSize, n < 0 { throw ValidationError("--no-repeat-ngram-size must be ≥ 0") }
        let generator = try GLMGenerator.load(try model ?? DefaultModel.path(), options: modelOptions.loadOptions)
        // The original's mask token is [sMASK] exactly when --task-mask is set, which the configs of the
        // task-mask models (and only those) pass: follow the tokenizer unless --task-mask asks for it.
        let spec = seq2seq.task(kind, taskMask: taskMask || generator.tokenizer.hasTaskMask, lengthPenalty: lengthPenalty)
        let evaluator = try Seq2SeqEvaluator(generator: generator, task: spec)
        let examples = try Seq2SeqData.examples(task: spec, split: split, dataDirectory: data, tokenizer: generator.tokenizer)
        let start = Date()
        var lastReport = Date.distantPast
        let result = try evaluator.evaluate(examples, split: split, batchSize: batchSize) { done, total in
            let now = Date()
            guard done == total || now.timeIntervalSince(lastReport) >= 2 else { return }
            lastReport = now
            let elapsed = now.timeIntervalSince(start)
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let eta = rate > 0 ? Double(total - done) / rate : 0
            let line = String(format: "evaluate %@ %@: %d/%d examples, %.2f examples/s, elapsed %.0fs, ETA %.0fs\n",
                              kind.rawValue, split.rawValue, done, total, rate, elapsed, eta)
            FileHandle.standardError.write(Data(line.utf8))
        }
        if let predictions {
            let refs = try result.write(predictionsPath: predictions)
            FileHandle.standardError.write(Data("wrote \(predictions) and \(refs)\n".utf8))
        }
        print(result.jsonLine)
    }
}
