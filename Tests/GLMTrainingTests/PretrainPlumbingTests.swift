import GLMEngine
import Foundation
import GLM
import XCTest
@testable import GLMTraining

/// The pieces around the trainer: the log, resume conflicts, signals, cloze items.
final class PretrainPlumbingTests: XCTestCase {
    func testLogHasTheRequiredFieldsAndIsCutBackOnResume() throws {
        let dir = try temporaryFolder(self)
        let path = dir + "/log.jsonl"
        let r = StepResult(step: 3, loss: 2.5, learningRate: 1e-4, gradNorm: 0.75, tokens: 100, lossTokens: 15, seconds: 0.5, skipped: false)
        do {
            let log = try TrainingLog(path: path, resumingAtStep: nil)
            for s in 1...5 {
                let rs = StepResult(step: s, loss: r.loss, learningRate: r.learningRate, gradNorm: r.gradNorm, tokens: 100,
                                    lossTokens: 15, seconds: 0.5, skipped: false)
                log.write(TrainingLog.stepFields(rs, tokensPerSecond: 200, elapsed: Double(s), validLoss: s == 4 ? 3.25 : nil))
            }
            log.write([("event", .string("checkpoint")), ("step", .int(5)), ("path", .string("a \"quoted\" path"))])
        }
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 6)
        let fourth = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[3].utf8)) as? [String: Any])
        for key in ["step", "loss", "lr", "grad_norm", "tokens_per_s", "valid_loss"] { XCTAssertNotNil(fourth[key], key) }
        XCTAssertEqual(fourth["valid_loss"] as? Double, 3.25)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(lines[5].utf8)) as? [String: Any], "escaped strings must stay valid JSON")
        _ = try TrainingLog(path: path, resumingAtStep: 3)
        let kept = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(kept.count, 3, "records of steps 4, 5 and the step-5 event must go: \(kept)")
    }

    func testResumeRefusesOptionsThatChangeTheRun() throws {
        let stored = tinySpec()
        let same = SpecEdit("--batch-size 4") { $0.batchSize = 4 }
        let lr = SpecEdit("--lr 0.5") { $0.schedule.peak = 0.5 }
        let layers = SpecEdit("--layers 7") { $0.model.numLayers = 7 }
        XCTAssertNoThrow(try PretrainSetup.checkResume(stored: stored, edits: [same]))
        XCTAssertThrowsError(try PretrainSetup.checkResume(stored: stored, edits: [same, lr, layers])) { e in
            XCTAssertTrue("\(e)".contains("--lr 0.5") && "\(e)".contains("--layers 7") && !"\(e)".contains("--batch-size"), "\(e)")
        }
        XCTAssertEqual(PretrainSetup.paddedVocabulary(30524), 30592)
        XCTAssertEqual(PretrainSetup.paddedVocabulary(128), 128)
    }

    /// A real process-directed signal reaches the flag whichever thread the kernel hands it to (SIGUSR1,
    /// so the test runner's own SIGINT/SIGTERM handling is untouched), and `onFirst` is called once.
    /// Threads that do not block the signal are started first: a DispatchSource-based version lost it.
    func testSignalSetsTheStopFlag() throws {
        let announced = LockedCount()
        let stop = StopSignal(signals: [SIGUSR1]) { sig in if sig == SIGUSR1 { announced.add() } }
        XCTAssertFalse(stop.isRequested)
        let busy = DispatchGroup()
        for _ in 0..<4 { DispatchQueue.global().async(group: busy) { usleep(300_000) } }
        kill(getpid(), SIGUSR1)
        let deadline = Date().addingTimeInterval(5)
        while (!stop.isRequested || announced.value == 0) && Date() < deadline { usleep(10_000) }
        busy.wait()
        XCTAssertEqual(stop.receivedSignal, SIGUSR1)
        XCTAssertEqual(announced.value, 1, "onFirst runs once for the first signal")
    }
}

/// A counter that a signal callback (another queue) may bump.
private final class LockedCount: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var value: Int { lock.withLock { n } }
}
