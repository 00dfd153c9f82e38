import Foundation
import GLM
import GLMEngine
import XCTest
@testable import GLMTraining

/// `PretrainingSession`, the library side of `glm pretrain`: new runs, resumes, refused changes.
final class PretrainingSessionTests: XCTestCase {
    /// A prepared dataset of short documents in `DataPrepareTests.words`.
    func preparedDataset(in dir: String) throws -> String {
        let words = DataPrepareTests.words.filter { $0.first!.isLetter }
        var g = SeededGenerator(seed: 5)
        let documents = (0..<24).map { _ in
            (0..<3).map { _ in (0..<8).map { _ in words[Int(g.next() % UInt64(words.count))] }.joined(separator: " ") + " ." }
                .joined(separator: " ")
        }
        let input = dir + "/corpus.txt"
        try documents.joined(separator: "\n\n").write(toFile: input, atomically: true, encoding: .utf8)
        let tokenizer = WordTokenizer(words: DataPrepareTests.words)
        let options = PrepareOptions(inputs: [input], output: dir + "/data", preset: "test-words", workers: 1)
        _ = try DatasetPreparer(options: options, reporter: CollectingReporter(), makeTokenizer: { tokenizer }).run()
        return dir + "/data"
    }

    func options(data: String, save: String, steps: Int) -> PretrainingOptions {
        var o = PretrainingOptions()
        o.layers = 1; o.hidden = 16; o.heads = 2; o.seqLength = 16; o.batchSize = 2; o.steps = steps
        o.lrDecayIters = 3  // the schedule of a new run spans its --steps by default: the same for both runs here
        o.data = data; o.save = save; o.evalInterval = 0; o.saveInterval = 0
        return o
    }

    func testResumedSessionEqualsTheUninterruptedOneAndRefusesChangedOptions() throws {
        let dir = try temporaryFolder(self)
        let data = try preparedDataset(in: dir)
        let whole = try PretrainingSession(options: options(data: data, save: dir + "/whole", steps: 3))
        XCTAssertNil(whole.resumedAt)
        XCTAssertEqual(try whole.run(log: nil, progress: nil, stop: nil).finalStep, 3)

        _ = try PretrainingSession(options: options(data: data, save: dir + "/split", steps: 2)).run(log: nil, progress: nil, stop: nil)
        XCTAssertThrowsError(try PretrainingSession(options: options(data: data, save: dir + "/split", steps: 3)),
                             "a new run must not overwrite a run's checkpoints")
        var resume = options(data: data, save: dir + "/split", steps: 3)
        resume.resume = true
        var changed = resume
        changed.lr = 0.5
        XCTAssertThrowsError(try PretrainingSession(options: changed)) { error in
            XCTAssertTrue("\(error)".contains("--lr 0.5"), "\(error)")
        }
        let resumed = try PretrainingSession(options: resume)
        XCTAssertEqual(resumed.resumedAt, 2)
        _ = try resumed.run(log: nil, progress: nil, stop: nil)
        XCTAssertTrue(parameterBits(resumed.trainer.model) == parameterBits(whole.trainer.model), "resumed weights differ from the uninterrupted run's")
    }
}
