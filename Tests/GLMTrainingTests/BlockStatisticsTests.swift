// Over many batches, what is blanked must match the configuration: masked share, span lengths,
// sentence coverage, gpt span lengths and layouts, [dBLOCK] rates, short-sequence splitting.
import XCTest
@testable import GLMTraining

final class BlockStatisticsTests: XCTestCase {
    private func config(_ edit: (inout BlankInfillingConfig) -> Void) -> BlankInfillingConfig {
        var c = BlankInfillingConfig()
        c.seqLength = 128
        c.taskMask = true
        edit(&c)
        return c
    }

    /// Expected masked token count of a sample whose target is T = int(bertRatio·n): span lengths are
    /// drawn until their sum reaches T, so the sum overshoots T. Exact by dynamic programming over the
    /// partial sums (h[s] = probability that some partial sum equals s).
    private func expectedMaskedCount(target: Int, p: [Double]) -> Double {
        if target <= 0 { return 0 }
        var h = [Double](repeating: 0, count: target)
        h[0] = 1
        for s in 1..<target { for l in 1...min(s, p.count) { h[s] += h[s - l] * p[l - 1] } }
        var e = 0.0
        for s in 0..<target { for l in 1...p.count where s + l >= target { e += h[s] * p[l - 1] * Double(s + l) } }
        return e
    }

    func testTokenLevelSpansMatchTheConfiguration() throws {
        let c = config { $0.bertProb = 1.0 }
        let batcher = try makeBatcher(c)
        let weights = c.spanLengthWeights
        let p = weights.map { $0 / weights.reduce(0, +) }
        var masked = 0, tokens = 0, spans = 0
        var expectedMasked = 0.0
        var histogram = [Int](repeating: 0, count: c.maxBlockLength)
        var stats = BlankingStatistics()
        for k in 0..<250 {
            let batch = try batcher.batch(k, size: 4)
            stats.add(batch, commands: testCommands)
            for row in batch.rows {
                let d = decodeRow(row, commands: testCommands)
                let n = d.sample.count
                let m = d.spanLengths.reduce(0, +)
                let target = Int(c.bertRatio * Double(n))
                XCTAssertGreaterThanOrEqual(m, target, "at least bert-ratio of the sample is blanked")
                XCTAssertLessThan(m, target + c.maxBlockLength, "the last span overshoots by less than one span")
                masked += m; tokens += n; spans += d.spanLengths.count
                expectedMasked += expectedMaskedCount(target: target, p: p)
                for l in d.spanLengths { histogram[l] += 1 }
            }
        }
        XCTAssertEqual([stats.blankedTokens, stats.spans, stats.sampleTokens], [masked, spans, tokens], "BlankingStatistics agrees with the decoded rows")
        let ratio = Double(masked) / Double(tokens)
        let meanSpan = Double(masked) / Double(spans)
        print("token-level: masked share \(ratio) (configured bert-ratio \(c.bertRatio); overshoot-exact expectation \(expectedMasked / Double(tokens))), mean span \(meanSpan) (expected \(c.expectedSpanLength)), spans \(spans), tokens \(tokens)")
        XCTAssertEqual(Double(masked) / expectedMasked, 1, accuracy: 0.02, "masked tokens vs exact expectation")
        XCTAssertEqual(ratio, c.bertRatio, accuracy: 0.03, "about 15 % of tokens masked")
        XCTAssertEqual(meanSpan, c.expectedSpanLength, accuracy: 0.1, "mean span length (Poisson λ=3 truncated to 1…39)")
        for l in 1...8 {
            let share = Double(histogram[l]) / Double(spans)
            XCTAssertEqual(share, p[l - 1], accuracy: 0.02, "share of spans of length \(l)")
        }
    }

    func testSentenceSpansCoverTheConfiguredShare() throws {
        let c = config { $0.bertProb = 0; $0.gapSentenceProb = 1.0 }
        let batcher = try makeBatcher(c)
        var covered = 0, tokens = 0
        for k in 0..<100 {
            let batch = try batcher.batch(k, size: 4)
            XCTAssertEqual(batch.mode, .sentence)
            for (i, row) in batch.rows.enumerated() {
                let sample = batcher.source.sample(k * 4 + i)
                let d = decodeRow(row, commands: testCommands)
                XCTAssertEqual(d.sample, sample.tokens)
                let sentences = SpanSampling.sentences(of: sample, eos: testCommands.eos, enc: testCommands.enc)
                for (start, length) in zip(d.spanStarts, d.spanLengths) {
                    XCTAssertTrue(sentences.contains(start..<(start + length)), "batch \(k) row \(i): span \(start)..<\(start + length) is a whole sentence")
                }
                let m = d.spanLengths.reduce(0, +)
                let target = Int(c.gapSentenceRatio * Double(sample.count))
                if m < target { XCTAssertEqual(d.spanLengths.count, sentences.count, "fewer tokens than the target only when all sentences are taken") }
                // Sentences are taken until the target is reached, so without the last one taken (part B is
                // reshuffled, so we only know it is at most the longest) the sum was below the target.
                if let longest = d.spanLengths.max(), d.spanLengths.count > 1 { XCTAssertLessThan(m - longest, target) }
                covered += m; tokens += sample.count
            }
        }
        let share = Double(covered) / Double(tokens)
        print("sentence-level: covered share \(share) (gap-sentence-ratio \(c.gapSentenceRatio))")
        XCTAssertGreaterThanOrEqual(share, c.gapSentenceRatio)
        XCTAssertLessThan(share, c.gapSentenceRatio + 0.12, "overshoot is at most about one sentence (~12 tokens of 128)")
    }

    func testDocumentLevelSpans() throws {
        let c = config { $0.bertProb = 0; $0.gapSentenceProb = 0; $0.gptMinRatio = 0.25; $0.gptInfillProb = 0.5 }
        let batcher = try makeBatcher(c)
        var suffixSingle = 0, single = 0, multi = 0
        var generated = 0, tokens = 0
        var stats = BlankingStatistics()
        for k in 0..<300 {
            let batch = try batcher.batch(k, size: 2)
            stats.add(batch, commands: testCommands)
            XCTAssertEqual(batch.mode, .gpt)
            let samples = (0..<2).map { batcher.source.sample(k * 2 + $0) }
            let shortest = samples.map(\.count).min()!
            var lengths: [Int] = []
            for (row, sample) in zip(batch.rows, samples) {
                let d = decodeRow(row, commands: testCommands)
                XCTAssertEqual(d.sample, sample.tokens)
                XCTAssertEqual(d.spanLengths.count, 1)
                XCTAssertEqual(d.maskID, testCommands.gMask)
                let firstEOS = sample.tokens.firstIndex(of: testCommands.eos)
                if firstEOS != nil && firstEOS != sample.count - 1 {
                    multi += 1
                    XCTAssertTrue(d.isSuffix, "a sample of several documents always gets the suffix layout")
                } else {
                    single += 1
                    if d.isSuffix { suffixSingle += 1 }
                }
                if d.isSuffix { XCTAssertEqual(d.spanStarts[0] + d.spanLengths[0], sample.count, "the suffix ends the sample") }
                lengths.append(d.spanLengths[0])
                generated += d.spanLengths[0]; tokens += sample.count
            }
            // One length L per batch, each row min(L, n - 2).
            let L = lengths.max()!
            XCTAssertGreaterThanOrEqual(L, Int(c.gptMinRatio * Double(shortest)))
            for (l, s) in zip(lengths, samples) { XCTAssertEqual(l, min(L, s.count - 2)) }
        }
        XCTAssertEqual([stats.blankedTokens, stats.spans, stats.sampleTokens], [generated, 600, tokens], "BlankingStatistics agrees with the decoded rows")
        let suffixShare = Double(suffixSingle) / Double(single)
        print("document-level: generated share \(Double(generated) / Double(tokens)), suffix share of single-document samples \(suffixShare) (gpt-infill-prob \(c.gptInfillProb)), single \(single), multi \(multi)")
        XCTAssertGreaterThan(single, 100); XCTAssertGreaterThan(multi, 50)
        XCTAssertEqual(suffixShare, c.gptInfillProb, accuracy: 4 * (0.25 / Double(single)).squareRoot())
    }

    func testBlockMaskAndContextMaskRates() throws {
        let c = config { $0.bertProb = 1.0; $0.blockMaskProb = 0.1; $0.contextMaskRatio = 0.05 }
        let batcher = try makeBatcher(c)
        var hidden = 0, spanTokens = 0
        for k in 0..<150 {
            for (i, row) in try batcher.batch(k, size: 4).rows.enumerated() {
                let d = decodeRow(row, commands: testCommands)
                let sample = batcher.source.sample(k * 4 + i)
                XCTAssertEqual(d.sample, sample.tokens, "[dBLOCK] hides inputs, never targets")
                for i in row.sep..<row.count where row.tokens[i] != testCommands.sop {
                    spanTokens += 1
                    if row.tokens[i] == testCommands.dBlock { hidden += 1 }
                }
                let contextHidden = (0..<row.sep).filter { row.tokens[$0] == testCommands.dBlock }
                XCTAssertEqual(contextHidden.count, Int(c.contextMaskRatio * Double(sample.count)), "context-mask-ratio × sample length")
                // Candidates, as the original's local_spans rule: up to contextMaskRange (3) tokens on each
                // side of a span's [MASK], and the last 3 tokens of part A (the end of the final segment).
                for j in contextHidden {
                    let nearMask = (max(0, j - 3)...min(row.sep - 1, j + 3)).contains { row.tokens[$0] == testCommands.mask }
                    XCTAssertTrue(nearMask || j >= row.sep - 3, "hidden context token \(j) is next to a span or ends part A")
                }
            }
        }
        let rate = Double(hidden) / Double(spanTokens)
        print("block-mask: \(rate) of \(spanTokens) part-B span inputs hidden (block-mask-prob 0.1)")
        XCTAssertEqual(rate, 0.1, accuracy: 4 * (0.09 / Double(spanTokens)).squareRoot())
    }

    func testShortSequenceSplitting() throws {
        let c = config { $0.bertProb = 1.0; $0.shortSeqProb = 1.0 }
        let batcher = try makeBatcher(c)
        var rowCounts = Set<Int>()
        for k in 0..<40 {
            let batch = try batcher.batch(k, size: 2)
            rowCounts.insert(batch.batchSize)
            let samples = (0..<2).map { batcher.source.sample(k * 2 + $0).tokens }
            for row in batch.rows {
                let d = decodeRow(row, commands: testCommands)
                XCTAssertEqual(d.sample.first, testCommands.enc)
                let body = Array(d.sample.dropFirst())
                XCTAssertLessThanOrEqual(d.sample.count, 127, "pieces are shorter than seq-length - 1")
                let inSomeSample = samples.contains { s in
                    s.count > body.count && (1...(s.count - body.count)).contains { Array(s[$0..<($0 + body.count)]) == body }
                }
                XCTAssertTrue(inSomeSample, "batch \(k): a piece is a contiguous part of a sample")
            }
        }
        XCTAssertGreaterThan(rowCounts.count, 1, "the number of pieces depends on the drawn length: \(rowCounts)")
        XCTAssertTrue(rowCounts.allSatisfy { $0 >= 2 && $0 <= 2 * (127 / 32) }, "\(rowCounts)")
    }
}
