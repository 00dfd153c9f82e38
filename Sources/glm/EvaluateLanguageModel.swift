import Foundation
import GLM
import GLMEngine
import GLMTasks
import GLMTokenizers
import GLMGeneration

/// `glm evaluate --task lambada|wikitext|language_model`: the original's `tasks/language_model/finetune.py`
/// zero-shot evaluation (`scripts/evaluate_lm.sh`).
extension EvaluateCommand {
    func loadEvaluator() throws -> (LanguageModelEvaluator, any Tokenizer) {
        let loaded = try LanguageModelEvaluator.load(try model ?? DefaultModel.path(), options: modelOptions.loadOptions, batchSize: batchSize)
        return (loaded.evaluator, loaded.tokenizer)
    }

    func runLambada() throws {
        let lines = try LambadaData.read(data)
        let (evaluator, tokenizer) = try loadEvaluator()
        let encoder = try LambadaEncoder(tokenizer: tokenizer, seqLength: seqLength, unidirectional: unidirectional, taskMask: taskMask)
        let samples = try lines.map { entry in
            do { return try encoder.encode(entry.text) } catch {
                throw LanguageModelDataError(file: data, line: entry.line, reason: "\(error)")
            }
        }
        let result = LambadaEvaluation(scores: try evaluator.score(samples))
        try writePredictions(result.scores, lines: lines.map(\.line))
        print(summary("lambada", examples: result.examples, metrics: result.metrics))
    }

    func runPerplexity() throws {
        let (evaluator, tokenizer) = try loadEvaluator()
        let corpus = task == .wikitext
            ? try LanguageModelCorpus.wikitext(file: data, tokenizer: tokenizer)
            : try LanguageModelCorpus.lines(file: data, tokenizer: tokenizer)
        let windows = try LanguageModelWindows(tokenizer: tokenizer, seqLength: seqLength, overlap: overlappingEval,
                                               unidirectional: unidirectional, taskMask: taskMask)
        var samples: [LanguageModelSample] = [], lines: [Int] = []
        for (d, doc) in corpus.documents.enumerated() {
            do {
                for k in 0..<windows.count(documentLength: doc.count) {
                    samples.append(try windows.window(doc, index: k))
                    lines.append(corpus.lines[d])
                }
            } catch {
                throw LanguageModelDataError(file: data, line: corpus.lines[d], reason: "\(error)")
            }
        }
        let result = PerplexityEvaluation(scores: try evaluator.score(samples), corpus: corpus)
        try writePredictions(result.scores, lines: lines)
        print(summary(task.rawValue, examples: result.examples, metrics: result.metrics))
    }

    func writePredictions(_ scores: [LanguageModelScore], lines: [Int]) throws {
        guard let predictions else { return }
        var out = ""
        for (uid, (score, line)) in zip(scores, lines).enumerated() {
            out += "{\"uid\": \(uid), \"line\": \(line), \"loss_sum\": \(score.lossSum), \"num_loss_tokens\": \(score.numLossTokens), "
                + "\"all_correct\": \(score.allCorrect)}\n"
        }
        try out.write(toFile: predictions, atomically: true, encoding: .utf8)
    }

    /// One JSON line; numbers in Swift's shortest round-trip form (Python's `repr`).
    func summary(_ task: String, examples: Int, metrics: [(String, Double)]) -> String {
        let m = metrics.map { "\(jsonString($0.0)): \($0.1)" }.joined(separator: ", ")
        return "{\"task\": \(jsonString(task)), \"split\": \"test\", \"examples\": \(examples), \"metrics\": {\(m)}}"
    }
}
