import Foundation
import XCTest
import GLM
import GLMEngine
import GLMTestSupport
import GLMTokenizers
import GLMTraining
@testable import GLMTasks

/// `Seq2SeqFinetuner` on the tiny fixture model with the customization fixture data (3 train, 3 val pairs).
final class Seq2SeqFinetuneTests: XCTestCase {
    func model() throws -> GLMModel { try GLMModel.load(try Fixtures.require("models/glm-tiny-bert")) }

    func task() -> Seq2SeqTask {
        var t = Seq2SeqTask.preset(.customization)
        t.srcSeqLength = 40
        t.tgtSeqLength = 12
        t.numBeams = 1
        t.minTgtLength = 0
        return t
    }

    func data() throws -> String { try Fixtures.require("tasks/seq2seq/customization") }

    func finetuner(_ m: GLMModel, epochs: Int, batch: Int = 2, accum: Int = 1, metric: Seq2SeqEvalMetric = .loss,
                   dropout: Bool = true, task t: Seq2SeqTask? = nil, smoothing: Double = 0.1) throws -> Seq2SeqFinetuner {
        let tokenizer = try S2SFixtures.bert()
        let t = t ?? task()
        let train = try Seq2SeqDataset(task: t, split: .train, dataDirectory: try data(), tokenizer: tokenizer)
        let dev = try Seq2SeqData.examples(task: t, split: .dev, dataDirectory: try data(), tokenizer: tokenizer)
        var o = FinetuneOptions(epochs: epochs, batchSize: batch)
        o.gradientAccumulation = accum
        o.learningRate = 3e-3
        o.warmup = 0
        o.seed = 7
        o.dropout = dropout
        return try Seq2SeqFinetuner(model: m, tokenizer: tokenizer, train: train, dev: dev, options: o, evalMetric: metric, labelSmoothing: smoothing)
    }

    func weights(_ m: GLMModel) -> [[Float]] { m.parameters.map { $0.value.toFloats() } }

    func maxDiff(_ a: [[Float]], _ b: [[Float]]) -> Float {
        zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
    }

    func testTrainingLowersTheLossAndIsDeterministic() throws {
        var runs: [(losses: [Double], weights: [[Float]], dev: [Double], best: Int)] = []
        for _ in 0..<2 {
            let m = try model()
            let before = weights(m)
            let f = try finetuner(m, epochs: 4)
            let result = try f.run()
            XCTAssertEqual(result.stepLosses.count, 4 * 2)
            XCTAssertTrue(result.stepLosses.allSatisfy(\.isFinite))
            let first = result.epochs.first!.trainLoss, last = result.epochs.last!.trainLoss
            XCTAssertLessThan(last, first, "\(result.stepLosses)")
            XCTAssertEqual(result.metrics.map(\.name), ["loss"])
            XCTAssertNotEqual(weights(m), before)
            runs.append((result.stepLosses, weights(m), result.epochs.map { $0.metrics[0].value }, result.bestEpoch))
        }
        XCTAssertEqual(runs[0].losses, runs[1].losses)
        XCTAssertEqual(runs[0].weights, runs[1].weights)
        XCTAssertEqual(runs[0].dev, runs[1].dev)
        // The kept epoch is the one with the lowest dev loss.
        XCTAssertEqual(runs[0].best, runs[0].dev.enumerated().min { $0.element < $1.element }!.offset + 1)
    }

    func testBatchLossIsTheMaskedLogSoftmaxMean() throws {
        for (maskPad, eps) in [(false, 0.0), (true, 0.0), (false, 0.1), (true, 0.1)] {
            var t = task()
            t.maskPadToken = maskPad
            let m = try model()
            let f = try finetuner(m, epochs: 1, task: t, smoothing: eps)
            let samples = Array(f.trainSamples.prefix(2))
            let loss = try f.loss(samples)
            // Independent: full logits of each sample alone, log-softmax in Double at the loss positions.
            var sum = 0.0, count = 0.0
            for s in samples {
                let n = s.ids.count
                let ids = try Tensor(shape: [1, n], ints: s.ids.map(Int32.init))
                let pos = try Tensor(shape: [1, 2, n], ints: (s.positions[0] + s.positions[1]).map(Int32.init))
                let mask: GLMMask
                switch s.attention {
                case .sep(let sep): mask = .sep([sep])
                case .explicit(let e): mask = .explicit(try Tensor(shape: [1, 1, n, n], values: e.flatMap { $0.map(Float.init) }))
                }
                let out = try m.forward(ids: ids, positionIds: pos, mask: mask, logits: .all, tape: Tape(recording: false, training: false))
                let logits = out.logits!.value.toFloats()
                let v = logits.count / n
                for i in 0..<n where s.lossMask![i] != 0 {
                    let row = logits[(i * v)..<((i + 1) * v)].map(Double.init)
                    let mx = row.max()!
                    let lse = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
                    let smooth = lse - row.reduce(0, +) / Double(v)
                    sum += ((1 - eps) * (lse - row[s.targets![i]]) + eps * smooth) * Double(s.lossMask![i])
                    count += Double(s.lossMask![i])
                }
            }
            XCTAssertGreaterThan(count, 0)
            XCTAssertEqual(loss, sum / count, accuracy: 1e-5, "mask-pad-token \(maskPad), smoothing \(eps)")
        }
    }

    /// The smoothed loss's gradient (the tape's) against central differences along the gradient direction.
    func testSmoothedLossGradientMatchesFiniteDifferences() throws {
        let m = try model()
        let f = try finetuner(m, epochs: 1, dropout: false, smoothing: 0.3)
        let samples = Array(f.trainSamples.prefix(2))
        let batch = try Seq2SeqTrainingBatch(samples, pad: 0)   // equal lengths: no padding
        f.stepper.zeroGradients()
        _ = try f.stepper.accumulate(on: Tape(recording: true, training: false), scalarLoss: { try m.seq2seqLoss(batch, labelSmoothing: 0.3, tape: $0) })
        let params = m.parameters
        let grads = params.map { $0.gradient.toFloats() }
        let norm = sqrt(grads.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1 * $1) } })
        XCTAssertGreaterThan(norm, 0)
        func shifted(_ h: Double) throws -> Double {
            for (p, g) in zip(params, grads) {
                for i in 0..<g.count { p.value.floats[i] += Float(h * Double(g[i]) / norm) }
                p.markModified()
            }
            defer {
                for (p, g) in zip(params, grads) {
                    for i in 0..<g.count { p.value.floats[i] -= Float(h * Double(g[i]) / norm) }
                    p.markModified()
                }
            }
            return Double(try m.seq2seqLoss(batch, labelSmoothing: 0.3, tape: Tape(recording: false, training: false)).value.scalarValue)
        }
        let h = 1e-2
        let fd = (try shifted(h) - shifted(-h)) / (2 * h)
        XCTAssertEqual(fd, norm, accuracy: 0.02 * norm)
    }

    func testGradientAccumulationEqualsOneLargerBatch() throws {
        var results: [(loss: Double, weights: [[Float]])] = []
        for (batch, accum) in [(3, 1), (1, 3)] {
            let m = try model()
            let f = try finetuner(m, epochs: 1, batch: batch, accum: accum, dropout: false)
            let r = try f.trainStep(f.trainSamples, step: 1, epoch: 1, totalSteps: 1)
            XCTAssertFalse(r.skipped)
            results.append((r.loss, weights(m)))
        }
        XCTAssertEqual(results[0].loss, results[1].loss, accuracy: 1e-5)
        XCTAssertLessThanOrEqual(maxDiff(results[0].weights, results[1].weights), 1e-5)
    }

    struct Stop: Error {}

    func testResumeAfterTheFirstEpochEqualsAnUninterruptedRun() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s2sft-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let full = try model()
        let expected = try finetuner(full, epochs: 2, metric: .rouge).run()
        XCTAssertEqual(expected.metrics.map(\.name), ["rouge-1", "rouge-2", "rouge-l"])
        XCTAssertThrowsError(try finetuner(try model(), epochs: 2, metric: .rouge).run(checkpoint: folder) { event in
            if case .epoch(let r) = event, r.epoch == 1 { throw Stop() }
        })
        XCTAssertEqual(try SuperGLUEFinetuner.checkpointPosition(folder)?.epoch, 1)
        let resumed = try model()
        var reported: [Int] = []
        let result = try finetuner(resumed, epochs: 2, metric: .rouge).run(checkpoint: folder, resume: true) { event in
            if case .step(let r) = event { reported.append(r.step) }
        }
        XCTAssertEqual(reported, [3, 4])
        XCTAssertEqual(result.stepLosses, expected.stepLosses)
        XCTAssertEqual(result.bestEpoch, expected.bestEpoch)
        XCTAssertEqual(result.metrics.map(\.value), expected.metrics.map(\.value))
        XCTAssertEqual(weights(resumed), weights(full))
        // A checkpoint of other options is refused.
        XCTAssertThrowsError(try finetuner(try model(), epochs: 3, metric: .rouge).run(checkpoint: folder, resume: true))
    }

    func testMismatchedSourceAndTargetCountsAreAClearError() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("s2sft-bad-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "a b c\nd e f\ng h\n".write(toFile: dir + "/train.source", atomically: true, encoding: .utf8)
        try "x\ny\n".write(toFile: dir + "/train.target", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Seq2SeqDataset(task: task(), split: .train, dataDirectory: dir, tokenizer: try S2SFixtures.bert())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("train.source has 3 lines") && text.contains("train.target has 2"), text)
        }
        // The dev split must not be empty, and the blank task has no ROUGE.
        let tokenizer = try S2SFixtures.bert()
        let train = try Seq2SeqDataset(task: task(), split: .train, dataDirectory: try data(), tokenizer: tokenizer)
        XCTAssertThrowsError(try Seq2SeqFinetuner(model: try model(), tokenizer: tokenizer, train: train, dev: [], options: FinetuneOptions(epochs: 1)))
    }
}
