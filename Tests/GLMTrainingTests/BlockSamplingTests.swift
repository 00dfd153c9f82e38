// Rows built from random spans: every row must decode back to its sample; batches are pure functions
// of (seed, index).
import XCTest
@testable import GLMTraining

final class BlockSamplingTests: XCTestCase {
    private func mixedConfig() -> BlankInfillingConfig {
        var c = BlankInfillingConfig()
        c.seqLength = 128
        c.bertProb = 0.4; c.gapSentenceProb = 0.3; c.gptMinRatio = 0.25; c.taskMask = true
        return c
    }

    /// 150 batches of 4 in all three objectives: each row decodes to the packed sample it came from,
    /// uses the mask of its objective, and bert spans never cover [CLS] or eos.
    func testRowsDecodeToTheirSamples() throws {
        let config = mixedConfig()
        let batcher = try makeBatcher(config)
        var modes: [BlockBatch.Mode: Int] = [:]
        var dropped = 0, rowsSeen = 0
        for k in 0..<150 {
            let batch = try batcher.batch(k, size: 4)
            modes[batch.mode, default: 0] += 1
            let samples = (0..<4).map { batcher.source.sample(k * 4 + $0).tokens }
            var next = 0
            for row in batch.rows {
                let decoded = decodeRow(row, commands: testCommands)
                while next < samples.count && samples[next] != decoded.sample {
                    XCTAssertEqual(batch.mode, .bert, "only bert mode drops samples (batch \(k))")
                    dropped += 1; next += 1
                }
                XCTAssertLessThan(next, samples.count, "batch \(k): a row matches no sample")
                next += 1
                rowsSeen += 1
                let expectedMask: Int32 = batch.mode == .bert ? testCommands.mask : batch.mode == .sentence ? testCommands.sMask! : testCommands.gMask!
                if let m = decoded.maskID { XCTAssertEqual(m, expectedMask, "batch \(k) mode \(batch.mode)") }
                if batch.mode == .bert {
                    for (start, length) in zip(decoded.spanStarts, decoded.spanLengths) {
                        let span = decoded.sample[start..<(start + length)]
                        XCTAssertFalse(span.contains(testCommands.eos) || span.contains(testCommands.enc), "batch \(k): bert span covers [CLS]/eos")
                    }
                }
                XCTAssertLessThanOrEqual(decoded.sample.count, config.seqLength)
            }
            dropped += samples.count - next
        }
        XCTAssertEqual(Set(modes.keys), [.bert, .sentence, .gpt], "all objectives occur: \(modes)")
        XCTAssertLessThan(Double(dropped) / Double(rowsSeen + dropped), 0.05, "dropped \(dropped) of \(rowsSeen + dropped)")
        print("rows decoded: \(rowsSeen), dropped (spans did not fit): \(dropped), modes: \(modes)")
    }

    func testBatchesArePureFunctionsOfSeedAndIndex() throws {
        let config = mixedConfig()
        let a = try makeBatcher(config)
        let b = try makeBatcher(config)
        let forward = try (0..<20).map { try a.batch($0, size: 3) }
        let backward = try (0..<20).reversed().map { try b.batch($0, size: 3) }.reversed()
        XCTAssertEqual(forward, Array(backward), "batch k does not depend on which batches were made before")
        XCTAssertEqual(try a.batch(1_000_003, size: 3), try b.batch(1_000_003, size: 3), "a far batch computed directly")
        let other = try makeBatcher(config, seed: 43)
        let differing = try (0..<20).filter { try other.batch($0, size: 3) != forward[$0] }.count
        XCTAssertGreaterThanOrEqual(differing, 19, "another seed gives other batches")
        XCTAssertEqual(a.source.sample(77), b.source.sample(77))
    }

    func testObjectiveMixMatchesConfiguration() throws {
        var config = mixedConfig()
        config.bertProb = 0.5; config.gapSentenceProb = 0.3   // gpt 0.2
        let batcher = try makeBatcher(config)
        let n = 1500
        var counts: [BlockBatch.Mode: Int] = [:]
        for k in 0..<n { counts[try batcher.batch(k, size: 1).mode, default: 0] += 1 }
        let expected: [BlockBatch.Mode: Double] = [.bert: 0.5, .sentence: 0.3, .gpt: 0.2]
        for (mode, p) in expected {
            let measured = Double(counts[mode, default: 0]) / Double(n)
            let sigma = (p * (1 - p) / Double(n)).squareRoot()
            print("objective \(mode): measured \(measured), configured \(p), 4σ = \(4 * sigma)")
            XCTAssertEqual(measured, p, accuracy: 4 * sigma, "share of \(mode) batches")
        }
    }

    func testSingleSpanProbability() throws {
        var config = mixedConfig()
        config.singleSpanProb = 1.0
        let batcher = try makeBatcher(config)
        for k in 0..<30 {
            let batch = try batcher.batch(k, size: 2)
            XCTAssertEqual(batch.mode, .bert)
            for row in batch.rows { XCTAssertEqual(decodeRow(row, commands: testCommands).spanLengths.count, 1) }
        }
    }

    func testConfigErrorsAreClear() throws {
        var config = mixedConfig()
        config.bertProb = 0.8; config.gapSentenceProb = 0.3
        XCTAssertThrowsError(try makeBatcher(config)) { XCTAssertTrue("\($0)".contains("exceeds 1"), "\($0)") }
        config = mixedConfig()
        let noTaskMasks = CommandTokenIDs.bertWordPiece
        XCTAssertThrowsError(try config.validate(commands: noTaskMasks)) { XCTAssertTrue("\($0)".contains("[sMASK]"), "\($0)") }
        config.blockMaskProb = 0.1; config.taskMask = false
        XCTAssertThrowsError(try config.validate(commands: noTaskMasks)) { XCTAssertTrue("\($0)".contains("[dBLOCK]"), "\($0)") }
        XCTAssertNotNil(BlankInfillingConfig.preset("glm-10b"))
        for name in BlankInfillingConfig.presetNames { XCTAssertNotNil(BlankInfillingConfig.preset(name), name) }
    }
}
