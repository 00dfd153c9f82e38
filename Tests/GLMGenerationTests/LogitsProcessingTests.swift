import GLMEngine
import Foundation
import XCTest
@testable import GLMGeneration

/// The per-step arithmetic against hand-worked examples of the original's functions.
final class LogitsProcessingTests: GenerationTestCase {
    func testTopKKeepsTiesWithTheKth() {
        var l: [Float] = [1, 3, 2, 3, 0]
        LogitsProcessing.topKLogits(&l, topK: 2, topP: 0)
        XCTAssertEqual(l, [-.infinity, 3, -.infinity, 3, -.infinity])
        var m: [Float] = [0.5, -1, 4, 2]
        LogitsProcessing.topKLogits(&m, topK: 3, topP: 0)
        XCTAssertEqual(m, [0.5, -.infinity, 4, 2])
        var all: [Float] = [1, 2]
        LogitsProcessing.topKLogits(&all, topK: 5, topP: 0)  // k ≥ V keeps everything
        XCTAssertEqual(all, [1, 2])
    }

    func testTopPKeepsTheTokenThatCrossesTheThreshold() {
        // probabilities 0.5, 0.25, 0.125, 0.125 (in a shuffled order)
        let base: [Float] = [log(0.125), log(0.5), log(0.125), log(0.25)].map { Float($0) }
        var a = base
        LogitsProcessing.topKLogits(&a, topK: 0, topP: 0.6)  // cumulative 0.5, 0.75 > 0.6 → keep 2
        XCTAssertEqual(a.map { $0 > -.infinity }, [false, true, false, true])
        var b = base
        LogitsProcessing.topKLogits(&b, topK: 0, topP: 0.4)  // 0.5 > 0.4 at once → keep only the first
        XCTAssertEqual(b.map { $0 > -.infinity }, [false, true, false, false])
        var c = base
        LogitsProcessing.topKLogits(&c, topK: 0, topP: 0.99)  // 0.5, 0.75, 0.875, 1.0 → keeps all 4
        XCTAssertEqual(c.map { $0 > -.infinity }, [true, true, true, true])
    }

    func testNoRepeatNGramBansAsFairseq() {
        XCTAssertEqual(LogitsProcessing.bannedByNGram([1, 2, 3, 1, 2], size: 3), [3])
        XCTAssertEqual(LogitsProcessing.bannedByNGram([1, 2, 3, 1, 2], size: 2), [3])
        XCTAssertEqual(LogitsProcessing.bannedByNGram([7, 2, 7, 4, 7], size: 2), [2, 4])
        XCTAssertEqual(Set(LogitsProcessing.bannedByNGram([1, 2, 3, 1, 2], size: 1)), [1, 2, 3])
        XCTAssertEqual(LogitsProcessing.bannedByNGram([5], size: 3), [])  // fewer than n − 1 tokens: nothing
        XCTAssertEqual(LogitsProcessing.bannedByNGram([], size: 1), [])
    }

    func testMinLengthBlocksEveryEndToken() {
        var row: [Float] = [0, 1, 2, 3]
        row.withUnsafeMutableBufferPointer {
            LogitsProcessing.applyConstraints($0.baseAddress!, count: 4, generated: [9], endTokens: [1, 3], minLength: 2, noRepeatNGram: 0)
        }
        XCTAssertEqual(row, [0, -.infinity, 2, -.infinity])
        var done: [Float] = [0, 1, 2, 3]
        done.withUnsafeMutableBufferPointer {
            LogitsProcessing.applyConstraints($0.baseAddress!, count: 4, generated: [9, 9], endTokens: [1, 3], minLength: 2, noRepeatNGram: 0)
        }
        XCTAssertEqual(done, [0, 1, 2, 3])
    }

    func testLogSoftmaxIsNormalisedAndCloseToFloat64() {
        var g = SeededGenerator(seed: 7)
        for n in [1, 5, 8, 13, 30592] {
            let x = (0..<n).map { _ in Float(g.nextNormal() * 4) }
            var out = [Float](repeating: 0, count: n)
            x.withUnsafeBufferPointer { LogitsProcessing.logSoftmax($0.baseAddress!, count: n, into: &out) }
            let m = Double(x.max()!)
            let lse = m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
            var worst = 0.0
            for i in 0..<n { worst = max(worst, abs(Double(out[i]) - (Double(x[i]) - lse))) }
            // float32 accumulation (as torch) drops the tiny terms' mass: ~1e-6 per 10k terms of this spread.
            XCTAssertLessThan(worst, n > 1000 ? 2e-5 : 2e-6, "n \(n)")
            XCTAssertEqual(out.reduce(0.0) { $0 + exp(Double($1)) }, 1, accuracy: 1e-5, "n \(n)")
        }
    }

    func testArgmaxAndLargest() {
        let v: [Float] = [1, 5, -2, 5, 3, .nan, 4]
        XCTAssertEqual(v.withUnsafeBufferPointer { LogitsProcessing.argmax($0.baseAddress!, count: v.count) }, 1)
        XCTAssertEqual(v.withUnsafeBufferPointer { LogitsProcessing.argmax($0.baseAddress!, count: 1) }, 0)
        XCTAssertEqual(BeamSearchLoop.largest(v, count: 4), [1, 3, 6, 4])
        let inf: [Float] = [-.infinity, -.infinity]
        XCTAssertEqual(inf.withUnsafeBufferPointer { LogitsProcessing.argmax($0.baseAddress!, count: 2) }, 0)
    }

    func testSamplingWithoutReplacementIsDistinctAndSeeded() {
        let scores: [Float] = [0, 1, 2, -.infinity, 0.5]
        var g1 = SeededGenerator(seed: 3), g2 = SeededGenerator(seed: 3)
        let a = LogitsProcessing.sampleWithoutReplacement(scores: scores, count: 4, generator: &g1)
        let b = LogitsProcessing.sampleWithoutReplacement(scores: scores, count: 4, generator: &g2)
        XCTAssertEqual(a, b)
        XCTAssertEqual(Set(a).count, 4)
        XCTAssertFalse(a.contains(3), "a −∞ score is never drawn")
        // Frequencies follow the softmax: index 2 (p ≈ 0.50) is drawn first far more often than index 0 (p ≈ 0.11).
        var g = SeededGenerator(seed: 11)
        var first = [Int](repeating: 0, count: 5)
        for _ in 0..<4000 { first[LogitsProcessing.sample(logits: scores, generator: &g)] += 1 }
        let p2 = Double(first[2]) / 4000, p0 = Double(first[0]) / 4000
        XCTAssertEqual(p2, exp(2) / (1 + exp(1) + exp(2) + exp(0.5)), accuracy: 0.03)
        XCTAssertEqual(p0, 1 / (1 + exp(1) + exp(2) + exp(0.5)), accuracy: 0.03)
        XCTAssertEqual(first[3], 0)
    }
}

/// BeamHypotheses / BeamSearchScorer on hand-made candidates (the original's rules, one by one).
final class BeamScorerTests: GenerationTestCase {
    func testHypothesesKeepTheBestAndTrackTheWorst() {
        var h = BeamHypotheses(numBeams: 2, lengthPenalty: 1.0, earlyStopping: false)
        XCTAssertTrue(h.add([1], sumLogProbs: -1))          // score −1
        XCTAssertTrue(h.add([1, 2], sumLogProbs: -4))       // score −2, worst −2
        XCTAssertEqual(h.worstScore, -2)
        XCTAssertFalse(h.add([4, 4, 4], sumLogProbs: -9))   // −3 < worst: not kept
        XCTAssertTrue(h.add([3], sumLogProbs: -0.5))        // −0.5: the −2 one leaves, worst = −1
        XCTAssertEqual(h.beams.map(\.ids), [[1], [3]])
        XCTAssertEqual(h.worstScore, -1)
        XCTAssertTrue(h.isDone(bestSumLogProbs: -1.5, currentLength: 1))    // −1 ≥ −1.5
        XCTAssertTrue(h.isDone(bestSumLogProbs: -2, currentLength: 2))      // −1 ≥ −1: ≥, not >
        XCTAssertFalse(h.isDone(bestSumLogProbs: -0.9, currentLength: 1))
        XCTAssertEqual(h.best?.ids, [3])
    }

    func testLengthPenaltyCountsTokensWithoutEndAndAtLeastOne() {
        let h = BeamHypotheses(numBeams: 1, lengthPenalty: 0.7, earlyStopping: false)
        XCTAssertEqual(h.score(sumLogProbs: -2, length: 0), -2)  // empty hypothesis: len 1
        XCTAssertEqual(h.score(sumLogProbs: -2, length: 3), Double(Float(-2)) / pow(3.0, 0.7))
    }

    func testEqualBestScoresPickTheLastAdded() {
        var h = BeamHypotheses(numBeams: 3, lengthPenalty: 1.0, earlyStopping: false)
        h.add([1], sumLogProbs: -1); h.add([2], sumLogProbs: -1); h.add([3], sumLogProbs: -3)
        XCTAssertEqual(h.best?.ids, [2])
    }

    func testProcessSkipsEndTokensRankedBelowNumBeams() throws {
        var s = BeamSearchScorer(numBeams: 2, lengthPenalty: 1.0, earlyStopping: false, endTokens: [9])
        let beams = [[5], [6]]
        let candidates = [BeamCandidate(token: 9, beam: 1, score: -0.5),   // rank 0: finishes beam 1's [6]
                          BeamCandidate(token: 7, beam: 0, score: -0.6),
                          BeamCandidate(token: 9, beam: 0, score: -0.7),   // rank 2 ≥ 2: ignored
                          BeamCandidate(token: 8, beam: 1, score: -0.8),
                          BeamCandidate(token: 4, beam: 0, score: -0.9)]
        let next = try s.process(step: 1, beamTokens: beams, candidates: candidates)
        XCTAssertEqual(next.map(\.token), [7, 8])
        XCTAssertEqual(next.map(\.beam), [0, 1])
        XCTAssertEqual(s.hypotheses.beams.map(\.ids), [[6]])
        XCTAssertEqual(s.trace.added.count, 1)
        XCTAssertFalse(s.isDone)
        // Finalize adds both running beams; the best of the three wins.
        let best = s.finalize(step: 2, beamTokens: [[5, 7], [6, 8]], beamScores: [-1.6, -1.8])  // −0.8, −0.9 per token
        XCTAssertEqual(best?.ids, [6])                                                            // −0.5 wins
        var t = BeamSearchScorer(numBeams: 2, lengthPenalty: 1.0, earlyStopping: false, endTokens: [9])
        _ = try t.process(step: 1, beamTokens: beams, candidates: candidates)
        XCTAssertEqual(t.finalize(step: 2, beamTokens: [[5, 7], [6, 8]], beamScores: [-0.6, -0.8])?.ids, [5, 7])  // −0.3
        XCTAssertEqual(s.trace.added.filter(\.viaFinalize).count, 2)
    }

    func testTooFewContinuingCandidatesIsAnError() {
        var s = BeamSearchScorer(numBeams: 2, lengthPenalty: 1.0, earlyStopping: false, endTokens: [9, 10])
        let c = [BeamCandidate(token: 9, beam: 0, score: -1), BeamCandidate(token: 10, beam: 0, score: -1.1),
                 BeamCandidate(token: 3, beam: 0, score: -1.2)]
        XCTAssertThrowsError(try s.process(step: 0, beamTokens: [[], []], candidates: c))
    }
}
