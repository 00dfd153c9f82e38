import Foundation
import GLMBenchmarks
import GLMEngine
import GLMTraining
import XCTest

/// The benchmark recipe and the training-step profile, at toy sizes.
final class BenchmarkTests: XCTestCase {
    func testBenchmarkRecipeBatchAndJSON() throws {
        var o = ModelBenchmarkOptions(mode: .train, layers: 1, hidden: 16, heads: 2, seqLength: 8, batchSize: 2)
        o.vocab = 64; o.warmup = 1; o.steps = 2
        let b = try ModelBenchmark.recipeBatch(o)
        XCTAssertEqual(b.seps, [4, 4])
        XCTAssertEqual(Array(b.positionIds.toInts()[0..<16]), [0, 1, 2, 3, 3, 3, 3, 3, 0, 0, 0, 0, 1, 2, 3, 4])
        XCTAssertEqual(Array(b.lossMask.toFloats()[0..<8]), [0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertTrue(b.ids.toInts().allSatisfy { $0 >= 0 && $0 < 64 })
        let r = try ModelBenchmark.run(o)
        XCTAssertEqual(r.stepMs.count, 2)
        XCTAssertLessThan(r.lossLast!, r.lossFirst!, "AdamW steps on one batch must lower its loss")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.json.utf8)) as? [String: Any])
        for key in ["impl", "mode", "tokens_per_s", "step_ms_median", "peak_rss_mb", "gflops", "seq", "batch", "vocab", "threads"] {
            XCTAssertNotNil(json[key], key)
        }
        XCTAssertEqual(json["impl"] as? String, "swiftglm")
        // perf-notes FLOP model: N_mm = 12·1·16² + 64·16 = 4096; train 6·N_mm + 12·1·16·8 = 26112 per token.
        XCTAssertEqual(o.flopsPerToken, 26112)
        o.mode = .forward
        XCTAssertEqual(o.flopsPerToken, 2 * 4096 + 4 * 16 * 8)
    }

    func testProfileFilesEveryPhaseOfTheTrainersStep() throws {
        var o = TrainingProfileOptions()
        o.layers = 1; o.hidden = 16; o.heads = 2; o.seqLength = 8; o.batchSize = 2; o.vocab = 64
        o.steps = 2; o.warmup = 0; o.threads = 1
        for rowsOnly in [false, true] {
            o.lossRowsOnly = rowsOnly
            let r = try TrainingProfile.run(o)
            XCTAssertGreaterThan(r.plainMedianMs, 0)
            let labels = r.summary.topOps(1000).map(\.label).joined(separator: "\n")
            for phase in ["clipGradNorm", "adamw"] { XCTAssertTrue(labels.contains(phase), "\(phase) in\n\(labels)") }
            let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.json(header: o.header).utf8)) as? [String: Any])
            XCTAssertNotNil(json["categories"])
        }
        o.clip = -1
        XCTAssertThrowsError(try o.validate())
    }
}

/// The decode workload, at toy sizes.
final class DecodeBenchmarkTests: XCTestCase {
    func testDecodeBenchmarkRunsAndIsDeterministic() throws {
        var c = DecodeBenchmark.Config()
        c.layers = 2; c.hidden = 32; c.heads = 4; c.vocab = 256; c.promptLength = 8; c.newTokens = 5
        c.batch = 2; c.warmup = 0; c.timedRuns = 1
        let a = try DecodeBenchmark(c).run(), b = try DecodeBenchmark(c).run()
        XCTAssertEqual(a.lastTokens.count, 5)
        XCTAssertEqual(a.lastTokens, b.lastTokens)
        XCTAssertGreaterThan(a.decodeTokensPerSecond, 0)
        XCTAssertGreaterThan(a.prefillTokensPerSecond, 0)
        XCTAssertEqual(a.weightBytesPerStep, (12 * 2 * 32 * 32 + 256 * 32) * 4)
        XCTAssertEqual(a.bandwidthBound(gigabytesPerSecond: 40), 2 * 40e9 / a.weightBytesPerStep, accuracy: 1e-6)
        // The benchmark's steps are the generator's: greedy over a random model of the same sizes.
        XCTAssertTrue(a.lastTokens.allSatisfy { $0 >= 0 && $0 < 256 })
    }
}
