import Foundation
import GLMGeneration
import GLMTokenizers

/// The outcome of a seq2seq evaluation: one prediction and one reference per example, in example order,
/// and the ROUGE the original's fine-tuning evaluation reports.
public struct Seq2SeqEvaluation: Sendable, Equatable {
    public var task: Seq2SeqTaskKind
    public var split: Seq2SeqSplit
    /// The examples' guids (the samples' `uid`), in order.
    public var uids: [String]
    /// `DecodeIds` of each best hypothesis without `eop` and pad ids: the lines of the original's `.hyps`.
    public var predictions: [String]
    /// Each example's `meta.ref`: the lines of the original's `.refs`.
    public var references: [String]
    /// The `rouge_metric` mode the original picks for the tokenizer and task.
    public var rougeMode: RougeMode
    /// The ROUGE of the predictions against the references, as the original's `rouge_metric`; nil for
    /// the blank task, for which the original computes no metric.
    public var rouge: RougeMetricResult?

    public var examples: Int { predictions.count }

    /// `rouge-1`, `rouge-2`, `rouge-l` as the original reports them (mean F1 of rouge1, rouge2, rougeLsum;
    /// fractions, not percent); none for the blank task.
    public var metrics: [(name: String, value: Double)] {
        guard let m = rouge?.originalMetrics else { return [] }
        return Self.rougeNames.map { ($0, m[$0]!) }
    }

    /// The names of `metrics` when there is a ROUGE result, in order.
    public static let rougeNames = ["rouge-1", "rouge-2", "rouge-l"]

    /// Where the references go for a predictions file: `X.hyps` → `X.refs`, anything else → `FILE.refs`
    /// (the original writes `<name>.jsonl.hyps` and `<name>.jsonl.refs` side by side).
    public static func referencesPath(forPredictions path: String) -> String {
        path.hasSuffix(".hyps") ? String(path.dropLast(5)) + ".refs" : path + ".refs"
    }

    /// Writes the predictions (one per line, each followed by `"\n"`, as the original's `output_func`)
    /// to `predictionsPath` and the references the same way next to it (`referencesPath`). As in the
    /// original, nothing is escaped: a prediction that decodes to text with a newline spans two lines.
    /// Returns the references path.
    @discardableResult
    public func write(predictionsPath: String) throws -> String {
        let refs = Self.referencesPath(forPredictions: predictionsPath)
        try predictions.map { $0 + "\n" }.joined().write(toFile: predictionsPath, atomically: true, encoding: .utf8)
        try references.map { $0 + "\n" }.joined().write(toFile: refs, atomically: true, encoding: .utf8)
        return refs
    }

    /// The summary line of `glm evaluate`: `{"task", "split", "examples", "metrics": {"rouge-1", "rouge-2",
    /// "rouge-l"}}`, numbers in shortest round-trip form.
    public var jsonLine: String {
        let m = metrics.map { "\"\($0.name)\": \($0.value)" }.joined(separator: ", ")
        return "{\"task\": \"\(task.rawValue)\", \"split\": \"\(split.rawValue)\", \"examples\": \(examples), \"metrics\": {\(m)}}"
    }
}

/// Beam-search evaluation of a seq2seq task as the original's `tasks/seq2seq/evaluate.py DecoderEvaluater`
/// runs it at the end of fine-tuning (`finetune.py metrics_func_provider`), on a `GLMGenerator`:
///
/// * samples: the task's evaluation samples, `source (padded to srcSeqLength) + sop` at `[mask_pos, 1]`
///   (`Seq2SeqEncoder`);
/// * decoding: `GLMGenerator.seq2seqBeamSearch` (the beam search proven against the original's traces)
///   with the task's `numBeams`, `lengthPenalty`, `selectTopK`, `minTgtLength` (MinLengthLogitsProcessor
///   on eop), `noRepeatNgramSize`, and `tgtSeqLength` new tokens at most; `top_k`/`top_p` are the
///   argparse defaults (off), early stopping off, `--seed` seeds the candidate draws without `selectTopK`;
/// * prediction: `DecodeIds` of the best hypothesis with every `eop` and pad id removed;
/// * reference: the example's `meta.ref`;
/// * ROUGE: `rouge_metric` with `dataset = 'cnn_dm'` for any BERT WordPiece tokenizer (whatever the
///   task, gigaword included), else `'gigaword'` for gigaword and `'cnn_dm_org'` for cnn_dm_original,
///   cnn_dm, xsum and customization (`rougeMode(for:tokenizer:)`).
///
/// The original decodes `--eval-batch-size` samples together; its scorer keeps every sample's beams
/// apart (own hypotheses, own done flag, per-row constraints), so a sample's prediction does not depend
/// on its batch. Here `batchSize` sources are decoded together too
/// (`GLMGenerator.seq2seqBeamSearch(sources:)`: one backend, every live beam of every source fed per
/// step, finished sources dropped), which gives the one-at-a-time predictions up to float rounding
/// (`BatchedBeamSearchTests`). `--mask-pad-token` (customization): the original hides the source
/// padding from every position; here the padding is left out, which is the same computation.
///
/// The blank task (test split) runs the original's `BlankLMEvaluater` instead: greedy infilling of every
/// `[MASK]` of the source in turn (`GLMGenerator.seq2seqBlankFill`, same min-length / no-repeat n-gram
/// constraints over all generated tokens, `tgtSeqLength` steps in all), the blanks put back into the
/// source (pad ids and the final `sop` left out), `DecodeIds`, then `blanklm_fix_tokenization`. The
/// original reports no metric for it (`metric_dict = {}`): `rouge` is nil.
public struct Seq2SeqEvaluator: @unchecked Sendable {
    public let generator: GLMGenerator
    public let task: Seq2SeqTask
    public let encoder: Seq2SeqEncoder
    public let rougeMode: RougeMode
    /// Which decoding implementation runs the beams (the K/V cache unless a test asks for the memory path).
    public var path: DecodingPath = .kvCache

    public init(generator: GLMGenerator, task: Seq2SeqTask) throws {
        guard task.kind != .blank || !task.taskMask else {
            throw Seq2SeqError.configuration(
                "blank evaluation with task masks: the samples hold [gMASK] but the original's BlankLMEvaluater looks for [sMASK] (it fails); evaluate without --task-mask")
        }
        guard !task.noBlockPosition else {
            throw Seq2SeqError.configuration(
                "--no-block-position evaluation (block position 1 at every step) is not supported: the generator's seq2seq decoding counts block positions 1, 2, ...")
        }
        guard task.numBeams >= 1 else { throw Seq2SeqError.configuration("num beams \(task.numBeams) must be at least 1") }
        guard task.minTgtLength >= 0 else { throw Seq2SeqError.configuration("min target length \(task.minTgtLength) must be ≥ 0") }
        guard task.noRepeatNgramSize >= 0 else {
            throw Seq2SeqError.configuration("no-repeat n-gram size \(task.noRepeatNgramSize) must be ≥ 0")
        }
        guard task.lengthPenalty.isFinite else { throw Seq2SeqError.configuration("length penalty must be finite") }
        let limit = generator.model.config.maxSequenceLength
        guard task.srcSeqLength < limit else {
            throw Seq2SeqError.configuration(
                "source length \(task.srcSeqLength) needs more than the model's \(limit) positions: use a source length (--src-seq-length) below \(limit)")
        }
        self.generator = generator
        self.task = task
        self.encoder = try Seq2SeqEncoder(task: task, tokenizer: generator.tokenizer)
        self.rougeMode = Self.rougeMode(for: task.kind, tokenizer: generator.tokenizer)
    }

    /// The `dataset` argument `finetune.py` passes to `rouge_metric`: `cnn_dm` for the BERT WordPiece
    /// tokenizer, otherwise `gigaword` for gigaword and `cnn_dm_org` for every other task.
    public static func rougeMode(for kind: Seq2SeqTaskKind, tokenizer: any Tokenizer) -> RougeMode {
        if tokenizer.family == .bertWordPiece { return .cnnDM }
        return kind == .gigaword ? .gigaword : .cnnDMOrg
    }

    /// The generation options of the evaluator (see the type's documentation).
    public var generationOptions: GenerationOptions {
        if task.kind == .blank {
            return GenerationOptions(strategy: .greedy, maxLength: task.tgtSeqLength, minLength: task.minTgtLength,
                                     noRepeatNGramSize: task.noRepeatNgramSize, seed: UInt64(truncatingIfNeeded: task.seed),
                                     restrictToRealTokens: false, path: path)
        }
        let beam = BeamSearchOptions(numBeams: task.numBeams, lengthPenalty: task.lengthPenalty, selectTopK: task.selectTopK,
                                     earlyStopping: false, topK: 0, topP: 0)
        return GenerationOptions(strategy: .beam(beam), maxLength: task.tgtSeqLength, minLength: task.minTgtLength,
                                 noRepeatNGramSize: task.noRepeatNgramSize, seed: UInt64(truncatingIfNeeded: task.seed),
                                 restrictToRealTokens: false, path: path)
    }

    /// The evaluation sample of an example (`source + sop`), as the original's dataset gives it for `split`.
    public func sample(_ example: Seq2SeqExample, split: Seq2SeqSplit) throws -> Seq2SeqSample {
        guard !split.hasTargets(task.kind) else {
            throw Seq2SeqError.configuration("the \(split.rawValue) split gives training samples: evaluate dev or test")
        }
        return try encoder.encode(example, split: split)
    }

    /// What the beam search runs on for a sample: the ids before `sop` and the mask position of the `sop`
    /// step. With `--mask-pad-token` the hidden padding is left out.
    public func beamInput(_ sample: Seq2SeqSample) throws -> (sourceIds: [Int], maskPosition: Int) {
        guard sample.isEvaluation, sample.ids.last == encoder.sop, let maskPosition = sample.positions.first?.last else {
            throw Seq2SeqError.input("\(sample.uid): not an evaluation sample (source + sop)")
        }
        var source = Array(sample.ids.dropLast())
        if case .explicit(let m) = sample.attention, let last = m.last {
            // The sop's row: 1 on the visible source tokens (a prefix) and on itself.
            let visible = last.prefix(source.count).reduce(0, +)
            source = Array(source.prefix(visible))
        }
        return (source, maskPosition)
    }

    /// The beam search of one sample.
    public func beamSearch(_ sample: Seq2SeqSample) throws -> BeamSearchResult {
        let input = try beamInput(sample)
        return try generator.seq2seqBeamSearch(sourceIds: input.sourceIds, maskPosition: input.maskPosition, options: generationOptions)
    }

    /// The prediction text of one example: `DecodeIds` of its best hypothesis without eop and pad
    /// (blank: the filled source, see the type's documentation).
    public func predict(_ example: Seq2SeqExample, split: Seq2SeqSplit) throws -> String {
        let sample = try sample(example, split: split)
        if task.kind == .blank { return fillBlanks(sample: sample, generated: try blankFill(sample)) }
        let r = try beamSearch(sample)
        return generator.tokenizer.decode(generator.predictionIds(r.ids))
    }

    /// Blank task: the greedy infilling of a test sample (the generated row: blanks separated by `sop`).
    public func blankFill(_ sample: Seq2SeqSample) throws -> [Int] {
        guard sample.isEvaluation, sample.ids.last == encoder.sop else {
            throw Seq2SeqError.input("\(sample.uid): not an evaluation sample (source + sop)")
        }
        let masks = sample.ids.indices.filter { sample.ids[$0] == encoder.mask }
        return try generator.seq2seqBlankFill(sourceIds: Array(sample.ids.dropLast()), maskPositions: masks, options: generationOptions)
    }

    /// Blank task: the prediction text from a sample (`source + sop`) and its generated row, as
    /// `BlankLMEvaluater`: eop/pad ids dropped, blanks split at `sop`, each mask of the sample replaced by
    /// its blank (masks beyond the blanks vanish), pad ids skipped, the last token (`sop`) dropped, then
    /// `DecodeIds` and `blanklm_fix_tokenization`.
    public func fillBlanks(sample: Seq2SeqSample, generated: [Int]) -> String {
        var blanks: [[Int]] = [[]]
        for t in generated where t != encoder.eop && t != encoder.pad {
            if t == encoder.sop { blanks.append([]) } else { blanks[blanks.count - 1].append(t) }
        }
        var out: [Int] = []
        var k = 0
        for t in sample.ids {
            if t == encoder.mask {
                if k < blanks.count { out += blanks[k] }
                k += 1
            } else if t != encoder.pad {
                out.append(t)
            }
        }
        return Seq2SeqDetokenizer.blankPrediction(generator.tokenizer.decode(Array(out.dropLast())))
    }

    /// Evaluates `examples` of `split`: predictions in example order, then ROUGE against `meta.ref`.
    /// `progress(done, total)` is called after every `batchSize` examples (and at the end).
    /// A failing example throws, naming it.
    public func evaluate(_ examples: [Seq2SeqExample], split: Seq2SeqSplit, batchSize: Int? = nil,
                         progress: ((Int, Int) -> Void)? = nil) throws -> Seq2SeqEvaluation {
        guard !split.hasTargets(task.kind) else {
            throw Seq2SeqError.configuration("the \(split.rawValue) split gives training samples: evaluate dev or test")
        }
        guard !examples.isEmpty else { throw Seq2SeqError.input("no examples to evaluate in the \(split.rawValue) split") }
        let batch = max(1, batchSize ?? task.evalBatchSize)
        var predictions: [String] = []
        predictions.reserveCapacity(examples.count)
        for start in stride(from: 0, to: examples.count, by: batch) {
            predictions += try predictTogether(Array(examples[start..<min(examples.count, start + batch)]), split: split)
            progress?(predictions.count, examples.count)
        }
        let references = examples.map(\.ref)
        var rouge: RougeMetricResult? = nil
        if task.kind != .blank { rouge = try RougeMetric.evaluate(predictions: predictions, references: references, mode: rougeMode) }
        return Seq2SeqEvaluation(task: task.kind, split: split, uids: examples.map(\.guid), predictions: predictions,
                                 references: references, rougeMode: rougeMode, rouge: rouge)
    }

    /// The predictions of examples decoded as one batch (the blank task's greedy infilling: one at a time).
    /// When the batch fails, its examples are redone one at a time so the error names the culprit.
    public func predictTogether(_ examples: [Seq2SeqExample], split: Seq2SeqSplit) throws -> [String] {
        if task.kind != .blank && examples.count > 1 {
            let inputs = try examples.map { e in try naming(e) { try beamInput(try sample(e, split: split)) } }
            if let results = try? generator.seq2seqBeamSearch(sources: inputs, options: generationOptions) {
                return results.map { generator.tokenizer.decode(generator.predictionIds($0.ids)) }
            }
        }
        return try examples.map { e in try naming(e) { try predict(e, split: split) } }
    }

    /// Runs `body`, turning a failure into a `Seq2SeqDataError` that names the example's file and line.
    private func naming<T>(_ example: Seq2SeqExample, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let e as Seq2SeqDataError {
            throw e
        } catch {
            throw Seq2SeqDataError(file: example.file, line: example.line, reason: "\(example.guid): \(error)")
        }
    }

    /// Reads `split` of the task from `dataDirectory` (`Seq2SeqData.examples`) and evaluates it.
    public func evaluate(split: Seq2SeqSplit, dataDirectory: String, batchSize: Int? = nil,
                         progress: ((Int, Int) -> Void)? = nil) throws -> Seq2SeqEvaluation {
        let examples = try Seq2SeqData.examples(task: task, split: split, dataDirectory: dataDirectory, tokenizer: generator.tokenizer)
        return try evaluate(examples, split: split, batchSize: batchSize, progress: progress)
    }
}

extension Seq2SeqDetokenizer {
    /// `blanklm_fix_tokenization` (tasks/seq2seq/evaluate.py): re-joins what BERT's `DecodeIds` splits
    /// (`` ` ` ``, `' '`, `n ' t`, `' s`, `' m`, `' re`, `. . .`, ` . .`, `- -`, `u . s .`, `u . k .`,
    /// `e . g .`), each `str.replace` in turn.
    public static func blankPrediction(_ s: String) -> String {
        replacing(s, [("` `", "``"), ("' '", "''"), ("n ' t", "n't"), ("' s", "'s"), ("' m", "'m"), ("' re", "'re"),
                      (". . .", "..."), (" . .", " .."), ("- -", "--"), ("u . s .", "u.s."), ("u . k .", "u.k."),
                      ("e . g .", "e.g.")])
    }
}
