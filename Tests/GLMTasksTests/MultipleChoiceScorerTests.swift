import XCTest
@testable import GLMTasks

/// Scores against the original's `GLMForMultiTokenCloze` + `multichoice_evaluate` (float32, CPU).
final class MultipleChoiceScorerTests: XCTestCase {
    /// Measured max |Δscore| over all 38 items (every choice, all 10 settings): 8.7e-6, on scores of -10
    /// to -90 (the original's float32 vs our float32 forward + Double log-softmax); the README expects
    /// ~1e-5. The tolerance leaves ~2× headroom for other CPUs' summation orders.
    static let tolerance = 2e-5

    /// Every setting: scores within tolerance, predictions equal wherever the fixture's top-two margin
    /// exceeds 10× the tolerance, and the accuracy equal when all predictions are decided.
    func testScoresPredictionsAndAccuracyMatchEverySetting() throws {
        var maxDelta = 0.0
        for setting in try Fixtures.settings() {
            let result = try Fixtures.scorer(for: setting).evaluate(try setting.lines())
            var decided = true
            for (i, item) in setting.items.enumerated() {
                let expected = doubles(item["scores"])
                XCTAssertEqual(result.scores[i].count, expected.count, "\(setting.title) item \(i)")
                for (a, e) in zip(result.scores[i], expected) {
                    maxDelta = max(maxDelta, abs(a - e))
                    XCTAssertEqual(a, e, accuracy: Self.tolerance, "\(setting.title) item \(i): scores \(result.scores[i]) vs \(expected)")
                }
                let sorted = expected.sorted(by: >)
                if sorted.count < 2 || sorted[0] - sorted[1] > 10 * Self.tolerance {
                    XCTAssertEqual(result.predictions[i], setting.predictions[i], "\(setting.title) item \(i): prediction")
                } else { decided = false }
            }
            XCTAssertEqual(result.labels, setting.labels, setting.title)
            if decided { XCTAssertEqual(result.accuracy, setting.accuracy, accuracy: 1e-9, setting.title) }
        }
        print("multichoice: max |Δscore| vs the original = \(maxDelta)")
        XCTAssertLessThan(maxDelta, Self.tolerance)
    }

    /// The sharp models' margins are ≥ 0.16: every prediction and every accuracy must be exact.
    func testSharpModelsPredictExactly() throws {
        let sharp = try Fixtures.settings().filter { $0.model.hasSuffix("-sharp") }
        XCTAssertEqual(sharp.count, 5)
        for setting in sharp {
            let result = try Fixtures.scorer(for: setting).evaluate(try setting.lines())
            XCTAssertEqual(result.predictions, setting.predictions, setting.title)
            XCTAssertEqual(result.accuracy, setting.accuracy, setting.title)
        }
    }

    /// Packing choice rows into passes of 1, 3 or 64 rows gives the same scores.
    func testScoresDoNotDependOnBatching() throws {
        for setting in try Fixtures.settings() where setting.model == "glm-tiny-chinese-sharp" {
            let items = try setting.lines()
            let reference = try Fixtures.scorer(for: setting, batchSize: 64).evaluate(items).scores
            for size in [1, 3] {
                let scores = try Fixtures.scorer(for: setting, batchSize: size).evaluate(items).scores
                for (a, b) in zip(scores.joined(), reference.joined()) { XCTAssertEqual(a, b, accuracy: 1e-5, "batch \(size)") }
            }
        }
    }

    /// `length_penalty > 0` divides by len^penalty; zero or negative leaves the sum (the original tests > 0).
    func testLengthPenaltyAsTheOriginal() throws {
        let setting = try Fixtures.settings().first { $0.model == "glm-tiny-bert-sharp" }!
        let items = try setting.lines()
        let plain = try Fixtures.scorer(for: setting).evaluate(items).scores
        let scorer = try Fixtures.scorer(for: setting)
        let lengths = try items.map { try scorer.encoder.encode($0).logitMasks.map { $0.reduce(0, +) } }
        scorer.lengthPenalty = 1
        let one = try scorer.evaluate(items).scores
        scorer.lengthPenalty = 0.5
        let half = try scorer.evaluate(items).scores
        scorer.lengthPenalty = -1
        let negative = try scorer.evaluate(items).scores
        for i in items.indices {
            for c in plain[i].indices {
                XCTAssertEqual(one[i][c], plain[i][c] / Double(lengths[i][c]), accuracy: 1e-9)
                XCTAssertEqual(half[i][c], plain[i][c] / Double(lengths[i][c]).squareRoot(), accuracy: 1e-9)
                XCTAssertEqual(negative[i][c], plain[i][c])
            }
        }
    }

    /// The text and id entry points give the evaluation's numbers.
    func testTextAndIdAPIs() throws {
        let setting = try Fixtures.settings().first { $0.model == "glm-tiny-chinese-sharp" && !$0.unidirectional }!
        let scorer = try Fixtures.scorer(for: setting)
        for (line, item) in zip(try setting.lines(), setting.items) {
            let expected = doubles(item["scores"])
            let text = try scorer.score(prompt: line.inputs, choices: line.choices)
            let ids = try scorer.score(inputIds: ints(item["inputs_ids_EncodeAsIds"]), choiceIds: ints2(item["choices_ids_EncodeAsIds"]))
            for (a, (b, e)) in zip(text, zip(ids, expected)) {
                XCTAssertEqual(a, e, accuracy: Self.tolerance)
                XCTAssertEqual(a, b)
            }
            XCTAssertEqual(try scorer.best(prompt: line.inputs, choices: line.choices), (item["prediction"] as! NSNumber).intValue)
        }
    }
}
