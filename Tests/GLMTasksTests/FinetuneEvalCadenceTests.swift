import Foundation
import XCTest
import GLM
import GLMTestSupport
import GLMTraining
@testable import GLMTasks

/// `FinetuneOptions.evalEpochs` (`glm finetune --eval-epochs N`): dev is evaluated after every N-th epoch and
/// the last, only those epochs can be kept, and training itself is unchanged — checked against every-epoch
/// runs of the same options on the tiny fixture model (SuperGLUE CB and the seq2seq customization fixture).
final class FinetuneEvalCadenceTests: XCTestCase {
    func testTheCadenceOptionIsValidatedAndPicksTheEpochs() throws {
        var o = FinetuneOptions(epochs: 5)
        o.evalEpochs = 2
        XCTAssertEqual((1...5).filter { o.evaluatesDev(after: $0) }, [2, 4, 5])
        o.evalEpochs = 10
        XCTAssertEqual((1...5).filter { o.evaluatesDev(after: $0) }, [5])
        o.evalEpochs = 1
        XCTAssertEqual((1...5).filter { o.evaluatesDev(after: $0) }, [1, 2, 3, 4, 5])
        o.evalEpochs = 0
        XCTAssertThrowsError(try o.validate()) { XCTAssertTrue("\($0)".contains("eval epochs must be ≥ 1"), "\($0)") }
    }

}

/// Checks the epochs of `every` (evaluated each epoch) against `sparse` (every `n`-th and the last).
enum EvalCadence {
    static func check(every: [FinetuneEpochReport], sparse: [FinetuneEpochReport], n: Int, bestEpoch: Int, higherIsBetter: Bool,
               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(sparse.map(\.epoch), every.map(\.epoch), file: file, line: line)
        let last = every.count
        var evaluated: [(epoch: Int, score: Double)] = []
        for (a, b) in zip(every, sparse) {
            XCTAssertEqual(a.trainLoss, b.trainLoss, "epoch \(a.epoch): training must not depend on the cadence", file: file, line: line)
            if a.epoch % n == 0 || a.epoch == last {
                XCTAssertEqual(b.metrics.map(\.value), a.metrics.map(\.value), "epoch \(a.epoch)", file: file, line: line)
                evaluated.append((a.epoch, a.metrics[0].value))
            } else {
                XCTAssertTrue(b.metrics.isEmpty, "epoch \(b.epoch) was evaluated", file: file, line: line)
                XCTAssertFalse(b.isBest, file: file, line: line)
            }
        }
        // The kept epoch is the best evaluated one (the earliest of equal scores).
        let best = evaluated.reduce(evaluated[0]) { (higherIsBetter ? $1.score > $0.score : $1.score < $0.score) ? $1 : $0 }
        XCTAssertEqual(bestEpoch, best.epoch, "\(evaluated)", file: file, line: line)
    }
}

extension SuperGLUEFinetuneTests {
    func testEvalEpochsEvaluatesEveryNthEpochAndKeepsTheBestOfThose() throws {
        let tests = self
        let (train, dev) = try tests.datasets(.cb)
        var o = tests.options(epochs: 3, lr: 5e-3)
        let every = try SuperGLUEFinetuner(model: try tests.model(), train: train, dev: dev, options: o).run()
        o.evalEpochs = 2
        let m = try tests.model()
        let sparse = try SuperGLUEFinetuner(model: m, train: train, dev: dev, options: o).run()
        XCTAssertEqual(sparse.stepLosses, every.stepLosses)
        EvalCadence.check(every: every.epochs, sparse: sparse.epochs, n: 2, bestEpoch: sparse.bestEpoch, higherIsBetter: true)
        // The model holds the kept epoch's weights: its dev metrics are the kept ones.
        XCTAssertEqual(try SuperGLUEEvaluator.evaluate(dev, model: m).metrics.map(\.value), sparse.metrics.map(\.value))
    }
}

extension Seq2SeqFinetuneTests {
    func testEvalEpochsEvaluatesEveryNthEpochAndResumesFromAnEvaluatedOne() throws {
        let tests = self
        func finetuner(_ m: GLMModel, evalEpochs: Int) throws -> Seq2SeqFinetuner {
            let f = try tests.finetuner(m, epochs: 3)
            var o = f.options
            o.evalEpochs = evalEpochs
            let tokenizer = try S2SFixtures.bert()
            let train = try Seq2SeqDataset(task: f.task, split: .train, dataDirectory: try tests.data(), tokenizer: tokenizer)
            return try Seq2SeqFinetuner(model: m, tokenizer: tokenizer, train: train, dev: f.devExamples, options: o,
                                        evalMetric: f.evalMetric, labelSmoothing: f.labelSmoothing)
        }
        let every = try finetuner(try tests.model(), evalEpochs: 1).run()
        let whole = try tests.model()
        let sparse = try finetuner(whole, evalEpochs: 2).run()
        XCTAssertEqual(sparse.stepLosses, every.stepLosses)
        EvalCadence.check(every: every.epochs, sparse: sparse.epochs, n: 2, bestEpoch: sparse.bestEpoch, higherIsBetter: false)

        // No checkpoint before the first evaluation; a run stopped after epoch 2 resumes to the same end.
        let folder = try ReferenceFixtures.scratchFolder(for: self, prefix: "eval-cadence") + "/ckpt"
        XCTAssertThrowsError(try finetuner(try tests.model(), evalEpochs: 2).run(checkpoint: folder) { event in
            if case .epoch(let r) = event, r.epoch == 1 { throw Seq2SeqFinetuneTests.Stop() }
        })
        XCTAssertNil(try SuperGLUEFinetuner.checkpointPosition(folder))
        XCTAssertThrowsError(try finetuner(try tests.model(), evalEpochs: 2).run(checkpoint: folder) { event in
            if case .epoch(let r) = event, r.epoch == 2 { throw Seq2SeqFinetuneTests.Stop() }
        })
        XCTAssertEqual(try SuperGLUEFinetuner.checkpointPosition(folder)?.epoch, 2)
        let m = try tests.model()
        let resumed = try finetuner(m, evalEpochs: 2).run(checkpoint: folder, resume: true)
        XCTAssertEqual(resumed.stepLosses, sparse.stepLosses)
        XCTAssertEqual(resumed.bestEpoch, sparse.bestEpoch)
        XCTAssertEqual(m.parameters.map { $0.value.toFloats() }, whole.parameters.map { $0.value.toFloats() })
    }
}
