import Foundation
import GLMBenchmarks
import XCTest

/// `glm bench finetune`'s workload, at toy sizes.
final class FinetuneBenchmarkTests: XCTestCase {
    func testFinetuneBenchmarkRunsDeterministicallyAndLowersTheLoss() throws {
        var o = ModelBenchmarkOptions(mode: .finetune, layers: 1, hidden: 16, heads: 2, seqLength: 12, batchSize: 3)
        o.vocab = 64; o.warmup = 0; o.steps = 4; o.threads = 1
        let samples = FinetuneBenchmark.samples(o)
        XCTAssertEqual(samples.count, 3)
        for s in samples {
            XCTAssertEqual(s.rows.count, 2)
            for r in s.rows {
                XCTAssertEqual(r.ids.count, 12); XCTAssertEqual(r.sep, 8)
                XCTAssertEqual(r.logitMask.reduce(0, +), 4)
                XCTAssertEqual(Array(r.blockPositions[7...]), [0, 1, 2, 3, 4])
            }
        }
        let a = try ModelBenchmark.run(o), b = try FinetuneBenchmark.run(o)
        XCTAssertEqual(a.stepMs.count, 4)
        XCTAssertEqual(a.lossFirst, b.lossFirst, "same seed, same loss")
        XCTAssertEqual(a.lossLast, b.lossLast)
        XCTAssertLessThan(a.lossLast!, a.lossFirst!, "AdamW steps on one batch must lower its loss")
        XCTAssertEqual(o.rowsPerStep, 6)
        XCTAssertEqual(a.tokensPerSecond, 6 * 12 / (a.stepMsMedian / 1000), accuracy: 1e-6)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(a.json.utf8)) as? [String: Any])
        for key in ["impl", "tokens_per_s", "step_ms_median", "peak_rss_mb", "loss_first", "loss_last", "rows", "seq", "batch"] {
            XCTAssertNotNil(json[key], key)
        }
        XCTAssertEqual(json["mode"] as? String, "finetune")
        XCTAssertEqual(json["rows"] as? Int, 6)

        o.singleToken = true; o.steps = 3
        let single = try FinetuneBenchmark.run(o)
        XCTAssertEqual(o.rowsPerStep, 3)
        XCTAssertLessThan(single.lossLast!, single.lossFirst!)
        o.singleToken = false; o.answerLength = 11
        XCTAssertThrowsError(try o.validate())
    }
}
