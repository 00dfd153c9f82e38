import Foundation
import GLMBenchmarks
import XCTest

/// `glm bench evaluate`'s workload at toy sizes: a 1-layer random model with the built-in tokenizer.
final class EvaluateBenchmarkTests: XCTestCase {
    func testRowsCountTheExamplesAndTheirFixedLengthTokens() throws {
        let generator = try EvaluateBenchmark.generator(model: nil, random: .init(layers: 1, hidden: 32, heads: 2), maxSequenceLength: 64)
        var c = EvaluateBenchmark.Config()
        c.numBeams = 2; c.batchSizes = [1, 2]; c.examples = 2; c.sourceWords = 12; c.newTokens = 5; c.warmupExamples = 1
        let bench = try EvaluateBenchmark(generator: generator, config: c)
        // Every source word is one token: each sample is [CLS] + 12 words + [MASK] + eos.
        for e in EvaluateBenchmark.examples(count: 4, sourceWords: 12, newTokens: 5, seed: 1) {
            XCTAssertEqual(generator.tokenizer.encode(e.source).count, 12, e.source)
            XCTAssertEqual(e.ref.split(separator: " ").count, 5)
        }
        var seen: [Int] = []
        let rows = try bench.run { seen.append($0.batchSize) }
        XCTAssertEqual(seen, [1, 2])
        XCTAssertEqual(rows.map(\.batchSize), [1, 2])
        for r in rows {
            XCTAssertEqual(r.examples, 2)
            XCTAssertEqual(r.numBeams, 2)
            XCTAssertGreaterThan(r.seconds, 0)
            XCTAssertTrue(r.examplesPerSecond.isFinite && r.examplesPerSecond > 0)
            // eop is blocked until newTokens: every example yields exactly 5 tokens.
            XCTAssertEqual(r.tokensPerSecond, r.examplesPerSecond * 5, accuracy: 1e-9 * r.tokensPerSecond)
            XCTAssertTrue((0...1).contains(r.rouge1), "\(r.rouge1)")
        }
        // Batch 2 decodes both sources together and predicts what batch 1 does one at a time.
        XCTAssertEqual(rows[0].rouge1, rows[1].rouge1, accuracy: 1e-12)
        let greedy = try bench.greedyReference(timedRuns: 1)
        XCTAssertTrue(greedy.examplesPerSecond > 0 && greedy.tokensPerSecond > 0)
        // A greedy example (12 + 2 prompt tokens, 5 steps) cannot take longer than its 5 decode steps alone.
        XCTAssertLessThanOrEqual(greedy.examplesPerSecond, greedy.tokensPerSecond / 5 * (1 + 1e-9))
    }

    func testBadSizesAreClearErrors() throws {
        let generator = try EvaluateBenchmark.generator(model: nil, random: .init(layers: 1, hidden: 32, heads: 2), maxSequenceLength: 16)
        var c = EvaluateBenchmark.Config()
        c.sourceWords = 20
        XCTAssertThrowsError(try EvaluateBenchmark(generator: generator, config: c)) { XCTAssertTrue("\($0)".contains("16 positions"), "\($0)") }
        c.sourceWords = 4; c.newTokens = 4; c.batchSizes = [0]
        XCTAssertThrowsError(try EvaluateBenchmark(generator: generator, config: c))
        XCTAssertThrowsError(try EvaluateBenchmark.generator(model: nil, random: .init(layers: 1, hidden: 30, heads: 4)))
    }
}
