import ArgumentParser
import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTasks

/// `glm evaluate`: zero-shot task evaluation as the original's `finetune_glm.py --epochs 0` runs
/// (`scripts/evaluate_multichoice.sh`): one JSON summary line on stdout, per-item predictions on request.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Evaluate a model on a task (as the original's scripts/evaluate_multichoice.sh, scripts/evaluate_lm.sh and the seq2seq fine-tuning evaluation).",
        discussion: """
            glm evaluate --task multichoice --data FILE.jsonl --model MODEL   prints \
            {"task": "multichoice", "split": "test", "dataset": "multichoice-FILE", "examples": N, "metrics": {"accuracy": A}} \
            (accuracy in percent). Each input line: {"inputs_pretokenized": "...", "choices_pretokenized": ["...", ...], \
            "label": k} (label optional, default 0). Each choice is scored by the summed log-probability of its tokens \
            in the blank ([MASK] appended when the input has none; --unidirectional: after [gMASK], left to right).
            --predictions FILE writes one JSON line per item: {"uid", "line", "prediction", "label", "scores"}.

            glm evaluate --task lambada --data FILE.jsonl   (config_tasks/zero_lambada*.sh; `lambda` is the original's \
            name) reads {"text": ...} lines and prints {"task": "lambada", "split": "test", "examples": N, \
            "metrics": {"accuracy": A}}: an item is right when every token of its last word (encoded as " " + word) is \
            the model's argmax. --unidirectional reads the context left to right.
            glm evaluate --task wikitext|language_model --data FILE (config_tasks/zero_wikitext.sh, zero_lm*.sh): \
            perplexity over windows of --seq-length with --overlapping-eval tokens of new text per window; wikitext \
            detokenizes the whole WikiText file as one document, language_model takes one document per line. Prints \
            {"task", "split": "test", "examples": WINDOWS, "metrics": {"avg loss", "ppl", "adjusted ppl"}} (adjusted ppl \
            is per whitespace-separated original token).
            --predictions FILE (LM tasks) writes one JSON line per item/window: {"uid", "line", "loss_sum", \
            "num_loss_tokens", "all_correct"}.

            glm evaluate --task cnn_dm_original|cnn_dm|xsum|gigaword|customization --data DIR [--split dev|test] \
            (tasks/seq2seq, config_tasks/seq_*.sh): reads the split as the original's processors do (DIR/test.source + \
            test.target, val.* for dev; xsum: the split list and <id>.summary files), decodes each source + sop with the \
            original's beam search (defaults from the task's config: --num-beams, --length-penalty, \
            --no-repeat-ngram-size, --select-topk/--no-select-topk, --min-tgt-length, --tgt-seq-length = max new \
            tokens, --src-seq-length; the fixture-size models need a --src-seq-length below their positions) and \
            prints {"task", "split", "examples", "metrics": {"rouge-1", "rouge-2", "rouge-l"}}: the original's \
            rouge_metric (mean F1 as fractions; rouge-l is rougeLsum; mode cnn_dm for BERT tokenizers, else \
            gigaword / cnn_dm_org). --predictions FILE writes one prediction per line (the original's .hyps) and \
            the references (meta.ref) next to it (FILE.refs, or X.refs for X.hyps). Progress goes to stderr. \
            --task blank (test split: DIR/test.txt and DIR/blank/test.maskratio0.1.blank, or the --blank-maskratio file) runs the original's \
            BlankLMEvaluater (greedy infilling of every blank, predictions = the filled source) and, like the \
            original, reports no metric: "metrics": {}.

            glm evaluate --task copa|wsc|rte|wic|cb|multirc|boolq|record --data DIR [--config glm-large|glm-10b] \
            [--pattern-id K] [--seq-length S] (SuperGLUE, as finetune_glm.py --epochs 0 with the task's config): reads \
            DIR/val.jsonl (the official layout; WSC as WSC-negative), encodes it with the task's pattern-verbalizer \
            pair, scores it with the cloze model (raw logits at the verbalizers, or summed log-probabilities of \
            multi-token answers) and prints {"task", "split": "dev", "examples", "metrics"} with the original's \
            metrics (accuracy in percent; CB f1-macro and MultiRC f1a as fractions; MultiRC em; ReCoRD EM/F1 in \
            percent). --predictions FILE writes one JSON line per example: {"uid", "prediction", "label", "scores"}.
            """)

    /// The original's task names; `lambda` is what its LAMBADA config passes (`--task lambda`).
    enum Task: String, ExpressibleByArgument, CaseIterable {
        case multichoice, lambada, lambda, wikitext
        case copa, wsc, rte, wic, cb, multirc, boolq, record
        case languageModel = "language_model"
        case cnnDMOriginal = "cnn_dm_original", cnnDM = "cnn_dm", xsum, gigaword, customization, blank

        /// The seq2seq task, for the summarization-style tasks.
        var seq2seq: Seq2SeqTaskKind? { Seq2SeqTaskKind(rawValue: rawValue) }
        /// The SuperGLUE task, for the eight SuperGLUE tasks.
        var superGLUE: SuperGLUETask? { SuperGLUETask(rawValue: rawValue) }
    }

    @Option(help: "The task (multichoice, lambada (alias lambda), wikitext, language_model, cnn_dm_original, cnn_dm, xsum, gigaword, customization, blank, copa, wsc, rte, wic, cb, multirc, boolq, record).") var task: Task
    @Option(help: "The data file (JSON Lines for multichoice and lambada, text for wikitext and language_model) or, for seq2seq and SuperGLUE tasks, the data folder.") var data: String
    @Option(help: "Model folder or weights file (any layout glm convert reads). Default: the built-in model.")
    var model: String?
    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("seq-length"), help: "Sample length; longer inputs lose tokens at the front (the original's --seq-length; default 512, SuperGLUE: the config's).")
    var seqLengthOption: Int?
    /// `--seq-length` for the zero-shot tasks (the original's evaluate scripts use 512).
    var seqLength: Int { seqLengthOption ?? 512 }
    @Flag(help: "Score left to right (multichoice: after [gMASK], which needs a tokenizer with task masks; LM tasks: the original's --unidirectional).")
    var unidirectional = false
    @Option(name: .customLong("overlapping-eval"), help: "wikitext/language_model: new tokens per window after the first (default: seq-length - 1, no overlap).")
    var overlappingEval: Int?
    @Flag(name: .customLong("task-mask"), help: "lambada/wikitext/language_model: use [gMASK] instead of [MASK] (the original's --task-mask).")
    var taskMask = false
    @Option(name: .customLong("length-penalty"), help: "multichoice: divide a choice's score by its token count^penalty (only when > 0, as the original; default 0). seq2seq: the beam length penalty (default: the task's config).")
    var lengthPenalty: Double?
    @Option(name: .customLong("batch-size"), help: "Rows per forward pass (the original's --eval-batch-size; seq2seq: sources beam-searched together). It does not change the numbers.") var batchSize = 16
    @Option(help: "Write per-item predictions (JSON lines) to this file.") var predictions: String?
    @Option(help: "Threads for oneDNN and the kernels.") var threads: Int?
    @OptionGroup(title: "Seq2seq options (defaults: the task's config_tasks/seq_*.sh)") var seq2seq: Seq2SeqEvaluateOptions
    @OptionGroup(title: "SuperGLUE options (defaults: the config's config_tasks/task_*.sh)") var superGLUE: SuperGLUEEvaluateOptions

    func validate() throws {
        guard seqLength >= 4 else { throw ValidationError("--seq-length must be ≥ 4") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be ≥ 1") }
        if let o = overlappingEval, o > seqLength - 1 {
            throw ValidationError("--overlapping-eval \(o) exceeds --seq-length - 1 = \(seqLength - 1) (the original would skip tokens)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if task.superGLUE == nil && superGLUE.isSet {
            throw ValidationError("--config and --pattern-id apply to the SuperGLUE tasks only")
        }
        if task.seq2seq == nil && seq2seq.isSet {
            throw ValidationError("--split, --num-beams, --no-repeat-ngram-size, --select-topk, --min-tgt-length, --tgt-seq-length, --src-seq-length, --mask-pad-token, --blank-maskratio and --seed apply to the seq2seq tasks only")
        }
    }

    func run() throws {
        if let threads { Runtime.setThreads(threads) }
        switch task {
        case .multichoice: try runMultichoice()
        case .lambada, .lambda: try runLambada()
        case .wikitext, .languageModel: try runPerplexity()
        case .cnnDMOriginal, .cnnDM, .xsum, .gigaword, .customization, .blank: try runSeq2Seq()
        case .copa, .wsc, .rte, .wic, .cb, .multirc, .boolq, .record: try runSuperGLUE()
        }
    }

    func runMultichoice() throws {
        let numbered = try MultipleChoiceData.readNumbered(data)
        let scorer = try MultipleChoiceScorer.load(try model ?? DefaultModel.path(), options: modelOptions.loadOptions,
                                                   seqLength: seqLength, unidirectional: unidirectional,
                                                   lengthPenalty: lengthPenalty ?? 0, batchSize: batchSize)
        let samples = try numbered.map { entry in
            do { return try scorer.encoder.encode(entry.item) } catch {
                throw MultipleChoiceDataError(file: data, line: entry.line, reason: "\(error)")
            }
        }
        let scores = try scorer.score(samples)
        let result = MultipleChoiceEvaluation(scores: scores, predictions: scores.map(MultipleChoiceScorer.argmax),
                                              labels: numbered.map(\.item.label))
        if let predictions {
            var out = ""
            for (uid, entry) in numbered.enumerated() {
                out += "{\"uid\": \(uid), \"line\": \(entry.line), \"prediction\": \(result.predictions[uid]), "
                    + "\"label\": \(entry.item.label), \"scores\": [\(result.scores[uid].map { "\($0)" }.joined(separator: ", "))]}\n"
            }
            try out.write(toFile: predictions, atomically: true, encoding: .utf8)
        }
        // The original names the data set "multichoice-" + the file name up to its first dot; it runs as --test-data.
        let dataset = "multichoice-" + (URL(fileURLWithPath: data).lastPathComponent.split(separator: ".").first.map(String.init) ?? "")
        print("{\"task\": \"multichoice\", \"split\": \"test\", \"dataset\": \(jsonString(dataset)), \"examples\": \(result.examples), "
              + "\"metrics\": {\"accuracy\": \(result.accuracy)}}")
    }

    func jsonString(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }
}
