import Foundation
import XCTest
import GLM
import GLMEngine
import GLMTestSupport
import GLMTraining
@testable import GLMTasks

/// `SuperGLUEFinetuner` on the tiny fixture model, with each task's fixture jsonl as train and dev split.
final class SuperGLUEFinetuneTests: XCTestCase {
    func model() throws -> GLMModel { try GLMModel.load(try Fixtures.require("models/glm-tiny-bert")) }

    func datasets(_ task: SuperGLUETask) throws -> (train: SuperGLUEDataset, dev: SuperGLUEDataset) {
        let file = try SuperGLUEFixtures.file(task.rawValue)
        let s = (file["settings"] as! [[String: Any]]).first { ($0["model_for_scores"] as? String) == "glm-tiny-bert" }!
        let settings = try SuperGLUEFixtures.settings(task, s)
        let tokenizer = try SuperGLUEFixtures.tokenizer(s["tokenizer"] as! String)
        let path = try SuperGLUEFixtures.inputPath(task.rawValue)
        let processor = SuperGLUEProcessor(task: task)
        func split(_ split: SuperGLUESplit) throws -> SuperGLUEDataset {
            try SuperGLUEDataset(settings: settings, split: split, examples: try processor.examples(file: path, split: split), tokenizer: tokenizer)
        }
        return (try split(.train), try split(.dev))
    }

    func options(epochs: Int, batch: Int = 2, accum: Int = 1, lr: Double = 2e-3) -> FinetuneOptions {
        var o = FinetuneOptions(epochs: epochs, batchSize: batch)
        o.gradientAccumulation = accum
        o.learningRate = lr
        o.warmup = 0
        o.seed = 7
        return o
    }

    func weights(_ m: GLMModel) -> [[Float]] { m.parameters.map { $0.value.toFloats() } }

    func mean(_ xs: ArraySlice<Double>) -> Double { xs.reduce(0, +) / Double(xs.count) }

    func testTrainingLowersTheLossAndIsDeterministic() throws {
        for task in [SuperGLUETask.cb, .copa] {
            let (train, dev) = try datasets(task)
            var runs: [(losses: [Double], weights: [[Float]])] = []
            for _ in 0..<2 {
                let m = try model()
                let before = weights(m)
                let result = try SuperGLUEFinetuner(model: m, train: train, dev: dev, options: options(epochs: 3)).run()
                let perEpoch = result.stepLosses.count / 3
                XCTAssertEqual(result.stepLosses.count, 3 * ((train.samples.count + 1) / 2), "\(task)")
                XCTAssertTrue(result.stepLosses.allSatisfy(\.isFinite), "\(task)")
                // The last epoch's mean training loss is below the first's.
                XCTAssertLessThan(mean(result.stepLosses.suffix(perEpoch)), mean(result.stepLosses.prefix(perEpoch)), "\(task): \(result.stepLosses)")
                XCTAssertNotEqual(weights(m), before, "\(task)")
                runs.append((result.stepLosses, weights(m)))
            }
            XCTAssertEqual(runs[0].losses, runs[1].losses, "\(task)")
            XCTAssertEqual(runs[0].weights, runs[1].weights, "\(task)")
        }
    }

    func testZeroEpochsIsTheEvaluatorsMetrics() throws {
        let (train, dev) = try datasets(.rte)
        let m = try model()
        let before = weights(m)
        let result = try SuperGLUEFinetuner(model: m, train: train, dev: dev, options: options(epochs: 0)).run()
        let expected = try SuperGLUEEvaluator.evaluate(dev, model: try model())
        XCTAssertEqual(result.bestEpoch, 0)
        XCTAssertEqual(result.metrics.map(\.name), expected.metrics.map(\.name))
        XCTAssertEqual(result.metrics.map(\.value), expected.metrics.map(\.value))
        XCTAssertTrue(result.stepLosses.isEmpty)
        XCTAssertEqual(weights(m), before)
    }

    func testTheBestEpochsWeightsAreKeptAndWritten() throws {
        let (train, dev) = try datasets(.cb)
        let m = try model()
        var snapshots: [Int: [[Float]]] = [:]
        var metrics: [Int: [Double]] = [:]
        var bestSeen = 0
        let result = try SuperGLUEFinetuner(model: m, train: train, dev: dev, options: options(epochs: 3, lr: 5e-3)).run { event in
            if case .epoch(let r) = event {
                snapshots[r.epoch] = self.weights(m)
                metrics[r.epoch] = r.metrics.map(\.value)
                if r.isBest { bestSeen = r.epoch }
            }
        }
        XCTAssertEqual(result.bestEpoch, bestSeen)
        XCTAssertEqual(result.epochs.count, 3)
        // The best epoch has the highest first metric, and the earliest one of equal value.
        let firsts = (1...3).map { metrics[$0]![0] }
        XCTAssertEqual(result.bestEpoch, firsts.firstIndex(of: firsts.max()!)! + 1)
        XCTAssertEqual(result.metrics.map(\.value), metrics[result.bestEpoch]!)
        XCTAssertEqual(weights(m), snapshots[result.bestEpoch]!)
        if result.bestEpoch != 3 { XCTAssertNotEqual(weights(m), snapshots[3]!) }

        // Written as a model folder and reloaded: the same weights and the same dev metrics.
        let folder = try ReferenceFixtures.scratchFolder(for: self, prefix: "finetune-best") + "/model"
        try SuperGLUEFinetuner.save(m, to: folder)
        let reloaded = try GLMModel.load(folder)
        XCTAssertEqual(weights(reloaded), weights(m))
        XCTAssertEqual(try SuperGLUEEvaluator.evaluate(dev, model: reloaded).metrics.map(\.value), result.metrics.map(\.value))
    }

    func testGradientAccumulationEqualsOneBatch() throws {
        for task in [SuperGLUETask.cb, .copa] {
            let (train, dev) = try datasets(task)
            var runs: [(losses: [Double], weights: [[Float]])] = []
            let whole = train.samples.count
            // CB: 4 samples as 1×4, 2×2 and 4×1; COPA (10 with the mirrored train examples): 1×10 and 2×5.
            let splits = task == .cb ? [(whole, 1), (2, 2), (1, whole)] : [(whole, 1), ((whole + 1) / 2, 2)]
            for (batch, accum) in splits {
                let m = try model()
                var o = options(epochs: 2, batch: batch, accum: accum)
                o.dropout = false
                let result = try SuperGLUEFinetuner(model: m, train: train, dev: dev, options: o).run()
                XCTAssertEqual(result.stepLosses.count, 2, "\(task) \(batch)×\(accum)")
                runs.append((result.stepLosses, weights(m)))
            }
            for r in runs.dropFirst() {
                for (a, b) in zip(r.losses, runs[0].losses) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(task)") }
                var maxDiff: Float = 0
                for (x, y) in zip(r.weights, runs[0].weights) { for (u, v) in zip(x, y) { maxDiff = max(maxDiff, abs(u - v)) } }
                XCTAssertLessThan(maxDiff, 1e-5, "\(task)")
            }
        }
    }

    struct Interrupted: Error {}

    func testAResumedRunEqualsAnUninterruptedOne() throws {
        let (train, dev) = try datasets(.cb)
        let o = options(epochs: 3, lr: 5e-3)
        let whole = try model()
        let expected = try SuperGLUEFinetuner(model: whole, train: train, dev: dev, options: o).run()

        let folder = try ReferenceFixtures.scratchFolder(for: self, prefix: "finetune-resume") + "/ckpt"
        XCTAssertThrowsError(try SuperGLUEFinetuner(model: try model(), train: train, dev: dev, options: o).run(checkpoint: folder) { event in
            if case .epoch(let r) = event, r.epoch == 1 { throw Interrupted() }
        })
        var reported: [Int] = []
        let m = try model()
        let resumed = try SuperGLUEFinetuner(model: m, train: train, dev: dev, options: o).run(checkpoint: folder, resume: true) { event in
            if case .step(let r) = event { reported.append(r.step) }
        }
        XCTAssertEqual(reported, Array(3...6))   // 2 steps per epoch; epoch 1 is not run again
        XCTAssertEqual(resumed.stepLosses, expected.stepLosses)
        XCTAssertEqual(resumed.bestEpoch, expected.bestEpoch)
        XCTAssertEqual(resumed.metrics.map(\.value), expected.metrics.map(\.value))
        XCTAssertEqual(resumed.epochs.map(\.epoch), [1, 2, 3])
        XCTAssertEqual(weights(m), weights(whole))

        // A checkpoint of other options is refused.
        var other = o
        other.learningRate = 1e-3
        XCTAssertThrowsError(try SuperGLUEFinetuner(model: try model(), train: train, dev: dev, options: other).run(checkpoint: folder, resume: true))
    }

    /// A stop request inside an epoch (what SIGINT does in `glm finetune`): the run saves that exact position
    /// — before the first evaluation too, with no best epoch yet — and the resumed run finishes the epoch's
    /// remaining steps and everything after with the numbers of an uninterrupted run.
    func testAStopInsideAnEpochResumesThere() throws {
        let (train, dev) = try datasets(.cb)
        let o = options(epochs: 3, lr: 5e-3)
        let whole = try model()
        let expected = try SuperGLUEFinetuner(model: whole, train: train, dev: dev, options: o).run()
        let folder = try ReferenceFixtures.scratchFolder(for: self, prefix: "finetune-stop") + "/ckpt"
        var seen = 0
        let stopped = try SuperGLUEFinetuner(model: try model(), train: train, dev: dev, options: o)
            .run(checkpoint: folder, report: { if case .step = $0 { seen += 1 } }, stop: { seen == 1 })
        XCTAssertEqual(stopped.stoppedAfterStep, 1)   // step 1 of 2 in epoch 1: no evaluation yet
        XCTAssertEqual(try SuperGLUEFinetuner.checkpointPosition(folder)?.step, 1)
        var reported: [Int] = []
        let m = try model()
        let resumed = try SuperGLUEFinetuner(model: m, train: train, dev: dev, options: o).run(checkpoint: folder, resume: true) { event in
            if case .step(let r) = event { reported.append(r.step) }
        }
        XCTAssertNil(resumed.stoppedAfterStep)
        XCTAssertEqual(reported, Array(2...6))
        XCTAssertEqual(resumed.stepLosses, expected.stepLosses)
        XCTAssertEqual(resumed.epochs.map(\.trainLoss), expected.epochs.map(\.trainLoss))
        XCTAssertEqual(resumed.bestEpoch, expected.bestEpoch)
        XCTAssertEqual(weights(m), weights(whole))
    }

    func testDefaultsFollowTheTaskScripts() {
        XCTAssertEqual(FinetuneOptions.defaults(for: .copa).epochs, 50)
        XCTAssertEqual(FinetuneOptions.defaults(for: .wic).epochs, 30)
        XCTAssertEqual(FinetuneOptions.defaults(for: .record).batchSize, 64)
        XCTAssertEqual(FinetuneOptions.defaults(for: .copa, tenB: true).epochs, 100)
        let o = FinetuneOptions.defaults(for: .rte)
        XCTAssertEqual(o.learningRate, 1e-5); XCTAssertEqual(o.warmup, 0.1); XCTAssertEqual(o.weightDecay, 0.1)
        XCTAssertEqual(o.batchSize, 16); XCTAssertEqual(o.decayStyle, .linear)
        XCTAssertEqual(SuperGLUEFinetuner.order(count: 10, seed: 1, epoch: 1), SuperGLUEFinetuner.order(count: 10, seed: 1, epoch: 1))
        XCTAssertNotEqual(SuperGLUEFinetuner.order(count: 10, seed: 1, epoch: 1), SuperGLUEFinetuner.order(count: 10, seed: 1, epoch: 2))
        XCTAssertEqual(SuperGLUEFinetuner.order(count: 10, seed: 1, epoch: 3).sorted(), Array(0..<10))
    }
}
