// Single-token [MASK] tests of a trained model, as `glm pretrain --cloze-eval/--cloze-prompt` runs them.
import Foundation
import GLMTokenizers

extension PretrainingSession {
    /// The top 5 fillers of each prompt's one [MASK], one entry per prompt ("prompt\n  → piece p, …").
    public func clozePrompts(_ prompts: [String]) throws -> [String] {
        guard !prompts.isEmpty else { return [] }
        let (evaluator, tok) = try clozeEvaluator()
        return try prompts.map { prompt in
            let top = try evaluator.top(try evaluator.item(prompt: prompt))
            return "\(prompt)\n  → " + top.map { "\(tok.token(for: Int($0.id)) ?? "?") \(String(format: "%.3f", $0.probability))" }.joined(separator: ", ")
        }
    }

    /// Exact-match accuracy on up to `count` sentences of `file` (one per line), one word-piece masked in
    /// each, next to two baselines (always the training data's most frequent eligible piece, and always
    /// this test's most frequent answer). Writes a "cloze" event to `log`; returns the lines to print.
    public func clozeEvaluation(file: String, count: Int, log: TrainingLog?) throws -> [String] {
        let (evaluator, tok) = try clozeEvaluator()
        let text: String
        do { text = try String(contentsOfFile: file, encoding: .utf8) } catch {
            throw TrainingError.invalidOption("--cloze-eval \(file): cannot read (\(error.localizedDescription))")
        }
        let items = evaluator.makeItems(lines: text.components(separatedBy: "\n"), count: count, seed: trainer.spec.seed)
        guard !items.isEmpty else { throw TrainingError.invalidOption("--cloze-eval \(file): no usable sentence") }
        let dataset = try TokenDataset(directory: trainer.spec.trainData.directory)
        let baseline = ClozeEvaluator.mostFrequentEligibleToken(in: dataset, tokenizer: tok)
        let r = try evaluator.evaluate(items, baselineToken: baseline)
        func piece(_ id: Int32) -> String { tok.token(for: Int(id)) ?? "?" }
        var lines = [String(format: "cloze: %d sentences of %@, one word-piece masked: model %.1f %% exact match; always \"%@\" (most frequent in training) %.1f %%; always \"%@\" (most frequent answer here) %.1f %%",
                            r.total, file, r.accuracy * 100, piece(r.baselineToken), r.baselineAccuracy * 100,
                            piece(r.oracleToken), r.oracleAccuracy * 100)]
        for (item, p) in r.predictions.prefix(5) { lines.append("  \(item.text)\n    blank \"\(piece(item.target))\" → \"\(piece(p))\"") }
        log?.write([("event", .string("cloze")), ("step", .int(trainer.step)), ("sentences", .int(r.total)),
                    ("accuracy", .double(r.accuracy)), ("baseline_token", .string(piece(r.baselineToken))),
                    ("baseline_accuracy", .double(r.baselineAccuracy)), ("oracle_token", .string(piece(r.oracleToken))),
                    ("oracle_accuracy", .double(r.oracleAccuracy))])
        return lines
    }

    private func clozeEvaluator() throws -> (ClozeEvaluator, any Tokenizer) {
        let tok = try TokenizerLoader.load(presetNamed: trainer.spec.model.tokenizer ?? "glm-large")
        return (try ClozeEvaluator(model: evaluationModel ?? trainer.model, tokenizer: tok), tok)
    }
}
