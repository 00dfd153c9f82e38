import XCTest
@testable import GLMTasks

/// Scores against the original's `lm_forward_step` / `evaluate_and_print_results` (float32, CPU).
final class LanguageModelEvaluatorTests: XCTestCase {
    /// Measured max |Δ log-prob| over every scored position of every setting (our float32 forward + Double
    /// log-softmax vs the original's float32): LAMBADA 6.4e-6, wikitext/language_model 6.5e-6; metrics
    /// (avg loss, ppl, adjusted ppl) within 1.3e-6 relative. The README expects ~1e-5; the tolerance leaves
    /// ~3x headroom for other CPUs' summation orders. Every argmax equals the original's.
    static let tolerance = 2e-5

    func testLambadaMatchesEverySetting() throws {
        var maxDelta = 0.0
        for s in try LMFixtures.settings("lambada.json") {
            let title = LMFixtures.title("lambada.json", s)
            let encoder = try LMFixtures.lambadaEncoder(s)
            let lines = try LambadaData.read(try LMFixtures.input("lambada.jsonl"))
            let result = LambadaEvaluation(scores: try LMFixtures.evaluator(s).score(try lines.map { try encoder.encode($0.text) }))
            let items = s["items"] as! [[String: Any]]
            for (i, (score, item)) in zip(result.scores, items).enumerated() {
                maxDelta = max(maxDelta, try check(score, item, "\(title) item \(i)"))
                XCTAssertEqual(score.allCorrect, (item["all_correct"] as! NSNumber).intValue == 1, "\(title) item \(i)")
            }
            XCTAssertEqual(result.correct, (s["num_correct"] as! NSNumber).intValue, title)
            XCTAssertEqual(result.accuracy, LMFixtures.metrics(s)["accuracy"]!, title)
        }
        print("lambada: max |Δ log-prob| vs the original = \(maxDelta)")
        XCTAssertLessThan(maxDelta, Self.tolerance)
    }

    func testPerplexityMatchesEverySetting() throws {
        var maxDelta = 0.0, maxRelative = 0.0
        for file in ["wikitext.json", "lm.json"] {
            for s in try LMFixtures.settings(file) {
                let title = LMFixtures.title(file, s)
                let corpus = try LMFixtures.corpus(file, s)
                let windows = try LMFixtures.windows(s).windows(corpus.documents)
                let result = PerplexityEvaluation(scores: try LMFixtures.evaluator(s).score(windows.map(\.sample)), corpus: corpus)
                for (i, (score, item)) in zip(result.scores, s["items"] as! [[String: Any]]).enumerated() {
                    maxDelta = max(maxDelta, try check(score, item, "\(title) window \(i)"))
                }
                let total = (s["total_loss_sum"] as! NSNumber).doubleValue
                XCTAssertEqual(result.totalLossTokens, (s["total_loss_tokens"] as! NSNumber).intValue, title)
                XCTAssertEqual(result.totalLossSum, total, accuracy: Self.tolerance * Double(result.totalLossTokens), title)
                XCTAssertEqual(s["formula"] as? String, "avg loss = total_loss_sum / (num_tokenized_tokens - 1); ppl = exp(min(20, avg loss)); "
                    + "token_ratio = (num_tokenized_tokens - 1) / (num_original_tokens - 1); adjusted ppl = exp(min(20, avg loss * token_ratio))")
                let expected = LMFixtures.metrics(s)
                for (name, value) in result.metrics {
                    let e = try XCTUnwrap(expected[name], "\(title): \(name)")
                    maxRelative = max(maxRelative, abs(value - e) / abs(e))
                    XCTAssertEqual(value, e, accuracy: 1e-5 * abs(e), "\(title): \(name)")
                }
                // The formula applied to the fixture's own total gives its metrics (to a few ulps: Foundation's
                // JSON number parsing on Linux is not always correctly rounded).
                let fromTotal = PerplexityEvaluation(scores: [LanguageModelScore(lossPositions: [0], targets: [0], logProbs: [-total], argmax: [0])],
                                                     corpus: corpus)
                for (name, value) in fromTotal.metrics {
                    XCTAssertEqual(value, expected[name]!, accuracy: 1e-14 * abs(value), "\(title): formula \(name)")
                }
            }
        }
        print("perplexity: max |Δ log-prob| vs the original = \(maxDelta), max relative Δ metric = \(maxRelative)")
        XCTAssertLessThan(maxDelta, Self.tolerance)
    }

    /// `correct / examples * 100` in the original's order; `allCorrect` needs every position right.
    func testLambadaAccuracyArithmetic() {
        let right = LanguageModelScore(lossPositions: [3, 4], targets: [7, 8], logProbs: [-1, -2], argmax: [7, 8])
        let wrong = LanguageModelScore(lossPositions: [3, 4], targets: [7, 8], logProbs: [-1, -2], argmax: [7, 9])
        XCTAssertTrue(right.allCorrect)
        XCTAssertFalse(wrong.allCorrect)
        XCTAssertEqual(right.lossSum, 3)
        let result = LambadaEvaluation(scores: [right, wrong, wrong])
        XCTAssertEqual(result.correct, 1)
        XCTAssertEqual(result.accuracy, 1.0 / 3.0 * 100)
        XCTAssertEqual(result.accuracy, 33.33333333333333)
    }

    /// Packing windows into passes of 1, 3 or 64 rows gives the same numbers.
    func testScoresDoNotDependOnBatching() throws {
        let s = try LMFixtures.settings("lm.json").first { LMFixtures.seqLength($0) == 24 && LMFixtures.unidirectional($0) }!
        let samples = try LMFixtures.windows(s).windows(try LMFixtures.corpus("lm.json", s).documents).map(\.sample)
        let reference = try LMFixtures.evaluator(s, batchSize: 64).score(samples)
        for size in [1, 3] {
            let evaluator = try LMFixtures.evaluator(s, batchSize: size)
            evaluator.projectionRows = 5
            let scores = try evaluator.score(samples)
            XCTAssertEqual(scores.map(\.argmax), reference.map(\.argmax), "batch \(size)")
            for (a, b) in zip(scores.flatMap(\.logProbs), reference.flatMap(\.logProbs)) { XCTAssertEqual(a, b, accuracy: 1e-5, "batch \(size)") }
        }
    }

    /// Per-position log-probs, targets, positions, loss sum and count; argmax wherever decided. Returns the max |Δ|.
    func check(_ score: LanguageModelScore, _ item: [String: Any], _ title: String) throws -> Double {
        XCTAssertEqual(score.lossPositions, ints(item["loss_positions"]), title)
        XCTAssertEqual(score.targets, ints(item["target_ids_at_loss_positions"]), title)
        XCTAssertEqual(score.numLossTokens, (item["num_loss_tokens"] as! NSNumber).intValue, title)
        let expected = doubles(item["target_logprob_at_loss_positions"])
        var delta = 0.0
        for (a, e) in zip(score.logProbs, expected) { delta = max(delta, abs(a - e)) }
        XCTAssertLessThan(delta, Self.tolerance, title)
        XCTAssertEqual(score.lossSum, (item["loss_sum"] as! NSNumber).doubleValue, accuracy: Self.tolerance * Double(max(score.numLossTokens, 1)), title)
        XCTAssertEqual(score.argmax, ints(item["argmax_at_loss_positions"]), title)
        return delta
    }
}
