import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTokenizers

/// The argv of a fixture setting (`command_line_flags`), read as argparse does: the LAST occurrence of a
/// flag wins; a flag with no value (`--wsc-negative`) is a switch.
public struct TaskFlags: Sendable {
    public let arguments: [String]

    public init(_ arguments: [String]) { self.arguments = arguments }

    /// The value after the last `name`, or nil when the flag is absent.
    public func value(_ name: String) -> String? {
        guard let i = arguments.lastIndex(of: name), i + 1 < arguments.count else { return nil }
        return arguments[i + 1]
    }

    public func has(_ name: String) -> Bool { arguments.contains(name) }

    public func int(_ name: String) throws -> Int? {
        guard let v = value(name) else { return nil }
        guard let i = Int(v) else { throw TaskFixtureError("flag \(name): \"\(v)\" is not an integer") }
        return i
    }

    public func double(_ name: String) throws -> Double? {
        guard let v = value(name) else { return nil }
        guard let d = Double(v) else { throw TaskFixtureError("flag \(name): \"\(v)\" is not a number") }
        return d
    }
}

public struct TaskFixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `glm inspect task`: re-runs a task fixture file (`tasks/superglue/<task>.json`,
/// `tasks/multichoice/*.json`, `tasks/lm/*.json`, `tasks/seq2seq/<task>.json` and `rouge.json` of the reference fixtures) with our readers, encoders,
/// scorers and metrics, and produces the same JSON layout: for every setting (its task flags read from
/// `command_line_flags`, last occurrence winning) each item's padded `sample` arrays as the original
/// builds them, the scores, predictions, metrics, the train split's one-batch loss, and for the LM files
/// the per-window losses and totals. The input data is the fixture's `input_file`, resolved relative to
/// the fixture's folder; scores use `<models>/<model_for_scores>` (its own config gives the model's
/// sizes; `--seq-length` may exceed its position table: only real tokens' positions index it).
///
/// Keys the fixture generator added for convenience (`_real_length`, `_decoded`, …), the fixture's
/// notes and the original's code references (`dataset_call`, `eval_function`) are not produced.
public final class TaskFixtureRunner {
    /// The folder of model folders; nil when only encodings (seq2seq, ROUGE) are run.
    public let modelsFolder: String?
    /// Samples per forward pass (no effect on the values).
    public var batchSize = 16
    private var models: [String: GLMModel] = [:]
    private var tokenizers: [String: any Tokenizer] = [:]

    public init(models: String?) { modelsFolder = models }

    /// The fixture file's JSON object.
    public static func readFixture(_ path: String) throws -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else { throw TaskFixtureError("cannot read \(path)") }
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TaskFixtureError("\(path) is not a JSON object")
        }
        return obj
    }

    /// Runs every setting of the fixture at `path`; the result has the fixture's layout.
    public func run(fixture path: String) throws -> [String: Any] {
        let fixture = try Self.readFixture(path)
        let folder = (path as NSString).deletingLastPathComponent
        if fixture["runs"] != nil { return try seq2seq(fixture, folder: folder, path: path) }
        if fixture["pairs"] != nil { return try rouge(fixture, path: path) }
        guard let inputFile = fixture["input_file"] as? String else { throw TaskFixtureError("\(path): no input_file") }
        let input = (folder as NSString).appendingPathComponent(inputFile)
        guard let settings = fixture["settings"] as? [[String: Any]] else { throw TaskFixtureError("\(path): no settings") }
        var out: [String: Any] = ["input_file": inputFile]
        if let task = fixture["task"] { out["task"] = task }
        let first = settings.first ?? [:]
        let results: [[String: Any]]
        if first["splits"] != nil {
            results = try settings.map { try superGLUE($0, input: input, fixture: fixture) }
        } else if first["mask_token_used"] != nil || ((first["items"] as? [[String: Any]])?.first?["line"] != nil) {
            results = try settings.map { try multichoice($0, input: input) }
        } else if first["strict"] != nil {
            results = try settings.map { try lambada($0, input: input) }
        } else if first["overlapping_eval"] != nil {
            let wikitext = (fixture["task"] as? String) == "wikitext"
            results = try settings.map { try perplexity($0, input: input, wikitext: wikitext) }
        } else {
            throw TaskFixtureError("\(path): not a SuperGLUE, multichoice or LM fixture")
        }
        out["settings"] = results
        return out
    }

    /// `run` written as JSON (sorted keys).
    public func runJSON(fixture path: String) throws -> Data {
        try JSONSerialization.data(withJSONObject: try run(fixture: path), options: [.sortedKeys])
    }

    // MARK: - models and tokenizers

    /// A model folder of `modelsFolder` and the tokenizer it names, loaded once (as `glm generate` loads them).
    func load(_ name: String) throws {
        guard models[name] == nil else { return }
        guard let modelsFolder else { throw TaskFixtureError("a setting scores with model \(name): pass the folder of model folders (--models)") }
        let loaded = try GLMGenerator.load((modelsFolder as NSString).appendingPathComponent(name), options: ModelLoadOptions(), packedWeights: nil)
        models[name] = loaded.model
        tokenizers["model:" + name] = loaded.tokenizer
    }

    func model(_ name: String) throws -> GLMModel {
        try load(name)
        return models[name]!
    }

    /// The tokenizer of a model folder (multichoice, LM).
    func tokenizer(model name: String) throws -> any Tokenizer {
        try load(name)
        return tokenizers["model:" + name]!
    }

    /// The tokenizer a SuperGLUE setting's `--tokenizer-type` names (GPT-2 BPE = GLM-10B, with task masks).
    func tokenizer(preset: TokenizerPreset) throws -> any Tokenizer {
        if let t = tokenizers["preset:" + preset.name] { return t }
        let t = try preset.load()
        tokenizers["preset:" + preset.name] = t
        return t
    }

    static func flags(_ s: [String: Any]) throws -> TaskFlags {
        guard let argv = s["command_line_flags"] as? [String] else { throw TaskFixtureError("a setting lacks command_line_flags") }
        return TaskFlags(argv)
    }

    /// The setting's fields the fixture records verbatim (name, flags, model) copied to the output.
    static func header(_ s: [String: Any], _ keys: [String]) -> [String: Any] {
        var out: [String: Any] = [:]
        for k in keys { if let v = s[k] { out[k] = v } }
        return out
    }

    // MARK: - SuperGLUE

    /// A SuperGLUE setting's flags as our settings.
    public static func superGLUESettings(_ flags: TaskFlags) throws -> SuperGLUESettings {
        guard let taskName = flags.value("--task") else { throw TaskFixtureError("no --task flag") }
        let task = try SuperGLUETask(named: taskName)
        guard let seq = try flags.int("--seq-length") else { throw TaskFixtureError("no --seq-length flag") }
        let tokenizer = flags.value("--tokenizer-type") ?? "BertWordPieceTokenizer"
        let preset: TokenizerPreset
        switch tokenizer {
        case "BertWordPieceTokenizer": preset = .glmLarge
        case "GPT2BPETokenizer": preset = .glm10B
        default: throw TaskFixtureError("unsupported --tokenizer-type \(tokenizer)")
        }
        return SuperGLUESettings(task: task, seqLength: seq, patternId: try flags.int("--pattern-id") ?? 0,
                                 multiToken: flags.has("--multi-token") ? true : nil,
                                 lossFunc: flags.value("--loss-func") ?? "cross_entropy",
                                 lengthPenalty: try flags.double("--length-penalty") ?? 0,
                                 wscNegative: flags.has("--wsc-negative"), taskMask: flags.has("--task-mask"), tokenizer: preset)
    }

    /// ReCoRD answers come from a Python `set` whose order depends on the generator's hash seed: the order
    /// the fixture run had, read from its dev examples' `meta.answers` (other files: sorted, as ours).
    static func recordAnswerOrder(_ fixture: [String: Any]) -> @Sendable ([String]) -> [String] {
        var orders: [[String]] = []
        for s in fixture["settings"] as? [[String: Any]] ?? [] {
            for item in ((s["splits"] as? [String: Any])?["dev"] as? [String: Any])?["items"] as? [[String: Any]] ?? [] {
                if let a = ((item["example"] as? [String: Any])?["meta"] as? [String: Any])?["answers"] as? [String] { orders.append(a) }
            }
        }
        let known = orders
        return { answers in known.first { Set($0) == Set(answers) && $0.count == answers.count } ?? answers }
    }

    static func partsObject(_ parts: [PatternPart], maskId: Int) -> [[String: Any]] {
        parts.map { p in
            switch p {
            case .text(let t, let short): return ["text": t, "shortenable": short]
            case .mask: return ["mask_ids": [maskId]]
            }
        }
    }

    /// A cloze sample as `SuperGlueDataset.__getitem__` returns it.
    public static func sampleObject(_ sample: ClozeSample) -> [String: Any] {
        switch sample.kind {
        case .multiToken:
            return ["text": sample.rows.map(\.ids), "position": sample.rows.map { [$0.positions, $0.blockPositions] },
                    "mask": sample.rows.map(\.sep), "target": sample.rows.map(\.targets), "logit_mask": sample.rows.map(\.logitMask),
                    "label": sample.label, "prompt_pos": sample.rows.map { _ in [Int]() }, "uid": sample.uid]
        case .singleToken(let verbalizerIds):
            let r = sample.rows[0]
            return ["text": r.ids, "position": [r.positions, r.blockPositions], "mask": r.sep, "target": verbalizerIds,
                    "logit_mask": r.logitMask, "label": sample.label, "prompt_pos": [Int](), "uid": sample.uid]
        }
    }

    func superGLUE(_ s: [String: Any], input: String, fixture: [String: Any]) throws -> [String: Any] {
        let flags = try Self.flags(s)
        let settings = try Self.superGLUESettings(flags)
        let tokenizer = try tokenizer(preset: settings.tokenizer)
        let processor = SuperGLUEProcessor(task: settings.task, recordAnswerOrder: Self.recordAnswerOrder(fixture))
        let modelName = s["model_for_scores"] as? String
        var out = Self.header(s, ["name", "command_line_flags", "model_for_scores"])
        out["seq_length"] = settings.seqLength; out["pattern_id"] = settings.patternId
        out["cloze_eval"] = flags.has("--cloze-eval")
        out["multi_token"] = settings.multiToken; out["loss_func"] = settings.lossFunc
        out["length_penalty"] = settings.lengthPenalty; out["wsc_negative"] = settings.wscNegative
        out["task_mask"] = settings.taskMask
        out["tokenizer"] = settings.tokenizer == .glm10B ? "GPT2BPETokenizer" : "BertWordPieceTokenizer"
        out["labels"] = settings.task.labels.map(\.foundationObject)
        if modelName != nil {
            out["model_class"] = settings.multiToken ? "GLMForMultiTokenCloze" : "GLMForSingleTokenCloze"
            // GLMForMultiTokenCloze log-softmaxes; the single-token scores are raw logits.
            out["take_softmax"] = settings.multiToken
        }
        let maskId = tokenizer.commandToken(.MASK) ?? -1
        var splits: [String: Any] = [:]
        for (name, split) in [("train", SuperGLUESplit.train), ("dev", .dev)] {
            let examples = try processor.examples(file: input, split: split)
            let dataset = try SuperGLUEDataset(settings: settings, split: split, examples: examples, tokenizer: tokenizer)
            let encoder = try ClozeEncoder(tokenizer: tokenizer, settings: settings, split: split)
            var items: [[String: Any]] = []
            for (ex, sample) in zip(dataset.examples, dataset.samples) {
                let pattern = try encoder.pvp.parts(ex)
                var item: [String: Any] = ["example": ex.jsonValue.foundationObject, "pattern_text": pattern.text,
                                           "pattern_parts_a": Self.partsObject(pattern.a, maskId: maskId),
                                           "sample": Self.sampleObject(sample)]
                item["pattern_parts_b"] = pattern.b.isEmpty ? NSNull() : Self.partsObject(pattern.b, maskId: maskId) as Any
                if settings.multiToken {
                    item["answers"] = try encoder.pvp.answers(ex); item["answer_ids"] = try encoder.answerIds(ex)
                } else {
                    item["verbalizers"] = try encoder.pvp.answers(ex); item["verbalizer_ids"] = try encoder.verbalizerIds()
                }
                items.append(item)
            }
            var out: [String: Any] = ["variable_num_choices": dataset.variableNumChoices, "num_truncated_by_pvp": dataset.numTruncated]
            if let modelName {
                let model = try model(modelName)
                let scorer = try ClozeScorer(model: model, lengthPenalty: settings.lengthPenalty, takeSoftmax: false, batchSize: batchSize)
                // `--eval-batch-size` samples per evaluation batch: the choice dimension is padded per batch.
                let result = try scorer.evaluate(dataset.samples, evalBatchSize: try flags.int("--eval-batch-size") ?? 16, wsc: settings.task == .wsc)
                for i in items.indices {
                    let scores = result.scores[i], width = result.maskedScores[i].count
                    items[i]["scores"] = scores
                    if settings.multiToken { items[i]["eval_batch_loss_mask"] = (0..<width).map { $0 < scores.count ? 1 : 0 } }
                    if dataset.variableNumChoices {
                        items[i]["scores_with_padded_choices"] = (0..<width).map { $0 < scores.count ? scores[$0] : scores[0] }
                    }
                    items[i]["argmax_choice"] = ClozePrediction.argmax(result.maskedScores[i])
                    // Filed under the uid: samples sharing one (WSC chunks) show the last one's.
                    if let k = result.uids.firstIndex(of: dataset.samples[i].uid) { items[i]["prediction_from_multichoice_evaluate"] = result.predictions[k] }
                }
                out["eval_order_guids"] = result.uids
                out["predictions"] = result.predictions
                out["labels"] = result.labels
                let metrics = try SuperGLUEMetrics.compute(task: settings.task.rawValue, predictions: result.predictions, labels: result.labels,
                                                           examples: SuperGLUEEvaluator.metricExamples(dataset, uids: result.uids))
                out["metrics"] = Dictionary(metrics.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
                let guids = dataset.samples.map(\.uid)
                if split == .train {
                    guard let function = ChoiceLossFunction(rawValue: settings.lossFunc) else {
                        throw TaskFixtureError("unsupported --loss-func \(settings.lossFunc)")
                    }
                    let tape = Tape(recording: true, training: false)
                    let loss = try scorer.trainingLoss(dataset.samples, function: function, tape: tape)
                    out["train_loss_one_batch_all_samples"] = Double(loss.value.floats[0])
                    out["train_batch_order_guids"] = guids
                    tape.reset()
                }
            }
            out["items"] = items
            splits[name] = out
        }
        out["splits"] = splits
        return out
    }

    // MARK: - multichoice

    func multichoice(_ s: [String: Any], input: String) throws -> [String: Any] {
        let flags = try Self.flags(s)
        guard let modelName = s["model_for_scores"] as? String else { throw TaskFixtureError("a multichoice setting without model_for_scores") }
        let seq = try flags.int("--seq-length") ?? 512
        let unidirectional = flags.has("--unidirectional")
        let lengthPenalty = try flags.double("--length-penalty") ?? 0
        let evalBatch = try flags.int("--eval-batch-size") ?? 16
        let tokenizer = try tokenizer(model: modelName)
        let encoder = try MultipleChoiceEncoder(tokenizer: tokenizer, seqLength: seq, unidirectional: unidirectional)
        let scorer = try MultipleChoiceScorer(model: try model(modelName), encoder: encoder, lengthPenalty: lengthPenalty, batchSize: batchSize)
        let lines = try MultipleChoiceData.read(input)
        let samples = try lines.map { try encoder.encode($0) }
        let scores = try scorer.score(samples)
        let predictions = scores.map(MultipleChoiceScorer.argmax)
        let evaluation = MultipleChoiceEvaluation(scores: scores, predictions: predictions, labels: lines.map(\.label))
        let rawLines = try TaskDataFiles.text(input).split(separator: "\n", omittingEmptySubsequences: true)
            .filter { !$0.allSatisfy(\.isWhitespace) }
        var items: [[String: Any]] = []
        for (i, (line, sample)) in zip(lines, samples).enumerated() {
            // The original pads the choice dimension of an evaluation batch to its widest item.
            let batch = (i / evalBatch) * evalBatch
            let width = samples[batch..<min(batch + evalBatch, samples.count)].map(\.ids.count).max() ?? 0
            var item: [String: Any] = [
                "inputs_ids_EncodeAsIds": tokenizer.encode(line.inputs),
                "choices_ids_EncodeAsIds": line.choices.map { tokenizer.encode($0) },
                "sample": ["text": sample.ids, "position": sample.positions, "mask": sample.seps, "target": sample.targets,
                           "logit_mask": sample.logitMasks, "label": sample.label, "uid": String(i)] as [String: Any],
                "scores": scores[i], "eval_batch_loss_mask": (0..<width).map { $0 < sample.ids.count ? 1 : 0 },
                "prediction": predictions[i], "label": line.label]
            if i < rawLines.count, let obj = try? JSONSerialization.jsonObject(with: Data(rawLines[i].utf8)) { item["line"] = obj }
            items.append(item)
        }
        var out = Self.header(s, ["name", "model_for_scores", "command_line_flags"])
        out["seq_length"] = seq; out["unidirectional"] = unidirectional; out["task_mask"] = flags.has("--task-mask")
        out["mask_token_used"] = unidirectional ? "gMASK" : "MASK"
        out["model_class"] = "GLMForMultiTokenCloze"; out["length_penalty"] = lengthPenalty
        out["items"] = items; out["predictions"] = predictions; out["labels"] = evaluation.labels
        out["metrics"] = ["accuracy": evaluation.accuracy]
        return out
    }

    // MARK: - language modelling

    static func lmSampleObject(_ s: LanguageModelSample) -> [String: Any] {
        ["text": s.ids, "target": s.targets, "attention_mask": s.sep, "loss_mask": s.lossMask, "position_id": s.positions]
    }

    static func scoreFields(_ score: LanguageModelScore) -> [String: Any] {
        ["loss_sum": score.lossSum, "num_loss_tokens": score.numLossTokens, "all_correct": score.allCorrect ? 1 : 0,
         "loss_positions": score.lossPositions, "target_ids_at_loss_positions": score.targets,
         "target_logprob_at_loss_positions": score.logProbs, "argmax_at_loss_positions": score.argmax]
    }

    func lambada(_ s: [String: Any], input: String) throws -> [String: Any] {
        let flags = try Self.flags(s)
        guard let modelName = s["model_for_scores"] as? String else { throw TaskFixtureError("a LAMBADA setting without model_for_scores") }
        let seq = try flags.int("--seq-length") ?? 512
        let unidirectional = flags.has("--unidirectional")
        let encoder = try LambadaEncoder(tokenizer: try tokenizer(model: modelName), seqLength: seq, unidirectional: unidirectional,
                                         taskMask: flags.has("--task-mask"))
        let lines = try LambadaData.read(input)
        let tokens = try lines.map { try encoder.tokens($0.text) }
        let samples = try tokens.map { try encoder.encode(context: $0.context, word: $0.word) }
        let evaluator = try LanguageModelEvaluator(model: try model(modelName), batchSize: batchSize)
        let result = LambadaEvaluation(scores: try evaluator.score(samples))
        var items: [[String: Any]] = []
        for (i, line) in lines.enumerated() {
            var item = Self.scoreFields(result.scores[i])
            item["text"] = line.text
            item["context_ids (LambadaDataset.tokens)"] = tokens[i].context
            item["last_word_ids (LambadaDataset.labels)"] = tokens[i].word
            item["sample"] = Self.lmSampleObject(samples[i])
            items.append(item)
        }
        var out = Self.header(s, ["name", "model_for_scores", "command_line_flags"])
        // Strict LAMBADA (the last whitespace word), blank marked with [MASK] in both directions (no task mask).
        out["seq_length"] = seq; out["unidirectional"] = unidirectional; out["mask_token"] = "MASK"; out["strict"] = true
        out["items"] = items; out["num_correct"] = result.correct
        out["metrics"] = Dictionary(result.metrics.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 })
        return out
    }

    func perplexity(_ s: [String: Any], input: String, wikitext: Bool) throws -> [String: Any] {
        let flags = try Self.flags(s)
        guard let modelName = s["model_for_scores"] as? String else { throw TaskFixtureError("an LM setting without model_for_scores") }
        let seq = try flags.int("--seq-length") ?? 512
        let overlap = try flags.int("--overlapping-eval")
        let unidirectional = flags.has("--unidirectional")
        let tokenizer = try tokenizer(model: modelName)
        let corpus = wikitext ? try LanguageModelCorpus.wikitext(file: input, tokenizer: tokenizer)
                              : try LanguageModelCorpus.lines(file: input, tokenizer: tokenizer)
        let windows = try LanguageModelWindows(tokenizer: tokenizer, seqLength: seq, overlap: overlap, unidirectional: unidirectional,
                                               taskMask: flags.has("--task-mask"))
        let all = try windows.windows(corpus.documents)
        let evaluator = try LanguageModelEvaluator(model: try model(modelName), batchSize: batchSize)
        let result = PerplexityEvaluation(scores: try evaluator.score(all.map(\.sample)), corpus: corpus)
        var items: [[String: Any]] = []
        for (i, w) in all.enumerated() {
            var item = Self.scoreFields(result.scores[i])
            item["dataset_index"] = i
            item["sample"] = Self.lmSampleObject(w.sample)
            items.append(item)
        }
        var out = Self.header(s, ["name", "model_for_scores", "command_line_flags"])
        out["formula"] = "avg loss = total_loss_sum / (num_tokenized_tokens - 1); ppl = exp(min(20, avg loss)); "
            + "token_ratio = (num_tokenized_tokens - 1) / (num_original_tokens - 1); adjusted ppl = exp(min(20, avg loss * token_ratio))"
        out["seq_length"] = seq; out["overlapping_eval"] = overlap ?? NSNull(); out["unidirectional"] = unidirectional
        out["max_seq_len (seq_length-1)"] = windows.maxSeqLen
        out["num_sequences_per_document"] = corpus.documents.map { windows.count(documentLength: $0.count) }
        out["num_original_tokens"] = corpus.numOriginalTokens
        out["num_tokenized_tokens"] = corpus.numTokenizedTokens
        out["documents_token_ids"] = corpus.documents
        if wikitext, let text = corpus.detokenizedText { out["detokenized_text"] = text }
        out["items"] = items
        out["total_loss_sum"] = result.totalLossSum
        out["total_loss_tokens"] = result.totalLossTokens
        out["metrics"] = Dictionary(result.metrics.map { ($0.0, $0.1) }, uniquingKeysWith: { $1 })
        return out
    }

    // MARK: - seq2seq

    /// A seq2seq run's flags as our task: the `--task` preset, then the run's own values (last occurrence).
    public static func seq2seqTask(_ flags: TaskFlags) throws -> Seq2SeqTask {
        guard let name = flags.value("--task"), let kind = Seq2SeqTaskKind(rawValue: name) else {
            throw TaskFixtureError("no known seq2seq --task (\(flags.value("--task") ?? "none"))")
        }
        var task = Seq2SeqTask.preset(kind, taskMask: flags.has("--task-mask"), blankMaskRatio: try flags.double("--blank-maskratio") ?? 0.1)
        if let v = try flags.int("--src-seq-length") { task.srcSeqLength = v }
        if let v = try flags.int("--tgt-seq-length") { task.tgtSeqLength = v }
        if let v = try flags.int("--seed") { task.seed = v }
        task.maskPadToken = flags.has("--mask-pad-token")
        task.noBlockPosition = flags.has("--no-block-position")
        return task
    }

    /// The tokenizer preset of a seq2seq run's `--tokenizer-type` (ChineseSP = glm-large-chinese flags).
    static func seq2seqPreset(_ flags: TaskFlags) throws -> TokenizerPreset {
        switch flags.value("--tokenizer-type") {
        case "BertWordPieceTokenizer": return .glmLarge
        case "GPT2BPETokenizer": return .glm10B
        case "ChineseSPTokenizer": return .glmLargeChinese
        case let other: throw TaskFixtureError("unsupported --tokenizer-type \(other ?? "none")")
        }
    }

    public static func seq2seqSampleObject(_ s: Seq2SeqSample) -> [String: Any] {
        var out: [String: Any] = ["text": s.ids, "position_id": s.positions, "uid": s.uid]
        switch s.attention {
        case .sep(let sep): out["attention_mask"] = sep
        case .explicit(let m): out["attention_mask"] = [m]
        }
        if let t = s.targets { out["target"] = t }
        if let m = s.lossMask { out["loss_mask"] = m }
        return out
    }

    static func seq2seqExampleObject(_ e: Seq2SeqExample) -> [String: Any] {
        ["guid": e.guid, "text_a": e.source, "text_b": e.target, "label": NSNull(), "idx": -1, "num_choices": 1, "meta": ["ref": e.ref]]
    }

    /// Every run and split of a seq2seq fixture: examples and samples (built in index order). The data
    /// folder is the run's `--data-dir` folder name inside the fixture's folder; the splits are the run's.
    func seq2seq(_ fixture: [String: Any], folder: String, path: String) throws -> [String: Any] {
        guard let runs = fixture["runs"] as? [[String: Any]] else { throw TaskFixtureError("\(path): no runs") }
        var outRuns: [[String: Any]] = []
        for run in runs {
            let flags = try Self.flags(run)
            let task = try Self.seq2seqTask(flags)
            let tokenizer = try tokenizer(preset: try Self.seq2seqPreset(flags))
            guard let dataDir = flags.value("--data-dir") else { throw TaskFixtureError("\(path): a run without --data-dir") }
            let dir = (folder as NSString).appendingPathComponent((dataDir as NSString).lastPathComponent)
            var splits: [String: Any] = [:]
            for name in ((run["splits"] as? [String: Any]) ?? [:]).keys.sorted() {
                guard let split = Seq2SeqSplit(rawValue: name) else { throw TaskFixtureError("\(path): unknown split \(name)") }
                var dataset = try Seq2SeqDataset(task: task, split: split, dataDirectory: dir, tokenizer: tokenizer)
                var items: [[String: Any]] = []
                for i in 0..<dataset.count {
                    let sample = try dataset.sample(at: i)
                    items.append(["example": Self.seq2seqExampleObject(dataset.examples[i]), "sample": Self.seq2seqSampleObject(sample)])
                }
                splits[name] = ["items": items]
            }
            var out = Self.header(run, ["name", "tokenizer_flags_from", "command_line_flags", "dataset_class", "blank_maskratio"])
            out["src_seq_length"] = task.srcSeqLength; out["tgt_seq_length"] = task.tgtSeqLength; out["task_mask"] = task.taskMask
            out["splits"] = splits
            outRuns.append(out)
        }
        var out: [String: Any] = ["runs": outRuns]
        for k in ["task", "input_files"] { if let v = fixture[k] { out[k] = v } }
        return out
    }

    // MARK: - ROUGE

    static func rougeObject(_ s: RougeScores) -> [String: Any] {
        func one(_ r: RougeScore) -> [String: Any] { ["precision": r.precision, "recall": r.recall, "f1": r.fmeasure] }
        return ["rouge1": one(s.rouge1), "rouge2": one(s.rouge2), "rougeL": one(s.rougeL), "rougeLsum": one(s.rougeLsum)]
    }

    /// `rouge.json`: rouge-score per pair (plain) and the original's `rouge_metric` in each of its modes.
    func rouge(_ fixture: [String: Any], path: String) throws -> [String: Any] {
        guard let pairs = fixture["pairs"] as? [[String: Any]] else { throw TaskFixtureError("\(path): no pairs") }
        let hyps = try pairs.map { p -> String in
            guard let h = p["hypothesis"] as? String else { throw TaskFixtureError("\(path): a pair without hypothesis") }
            return h
        }
        let refs = try pairs.map { p -> String in
            guard let r = p["reference"] as? String else { throw TaskFixtureError("\(path): a pair without reference") }
            return r
        }
        let scorer = RougeScorer()
        let plain: [[String: Any]] = zip(hyps, refs).map { h, r in
            var o = Self.rougeObject(scorer.score(reference: r, prediction: h))
            o["hypothesis"] = h; o["reference"] = r
            return o
        }
        let originalKey = fixture.keys.first { $0.hasPrefix("original_rouge_metric") }
            ?? "original_rouge_metric (tasks/seq2seq/evaluate.py rouge_metric, averaged F1 over pairs)"
        var original: [String: Any] = [:]
        for mode in RougeMode.allCases where mode.isOriginal {
            let result = try RougeMetric.evaluate(predictions: hyps, references: refs, mode: mode)
            var o: [String: Any] = result.originalMetrics
            o["results_json_lines"] = zip(result.references, result.predictions).map { ["ref": $0, "pred": $1] }
            original[mode.rawValue] = o
        }
        var out: [String: Any] = ["pairs": pairs, "per_pair_plain_rouge_score": plain, originalKey: original]
        if let v = fixture["implementation"] { out["implementation"] = v }
        return out
    }
}
