import Foundation
import GLM
import XCTest
@testable import GLMTraining

/// Checkpoints survive a kill -9 at any instant of a save, detect damage, and are pruned safely.
final class CheckpointStoreTests: XCTestCase {
    let corpus = tinyCorpus(documents: 8, lengths: 10...50)
    var spec: TrainingSpec { tinySpec(layers: 1, hidden: 16, steps: 6) }

    /// Reference: 6 uninterrupted steps.
    func referenceLosses() throws -> [Double] {
        let t = try tinyTrainer(spec, corpus: corpus)
        return try (0..<6).map { _ in try t.trainStep().loss }
    }

    /// For every stage of a save: a good checkpoint at step 2, then a save of step 4 "killed" at that
    /// stage (its temporary files left behind, as kill -9 leaves them). The pointer must still name a
    /// complete, verified checkpoint — step 2 if the kill came before the pointer moved, else step 4 —
    /// and resuming from it must reproduce the uninterrupted losses exactly. The next save then succeeds
    /// and clears the leftovers.
    func testAKillAtAnyStageOfASaveLeavesALoadableCheckpoint() throws {
        let reference = try referenceLosses()
        for stage in CheckpointStore.SaveStage.allCases {
            let dir = try temporaryFolder(self, "stage\(stage.rawValue)")
            let store = CheckpointStore(directory: dir, keep: 2)
            let t = try tinyTrainer(spec, corpus: corpus)
            for _ in 0..<2 { try t.trainStep() }
            try store.save(t, run: RunOptions(steps: 6))
            for _ in 0..<2 { try t.trainStep() }
            XCTAssertThrowsError(try store.save(t, run: RunOptions(steps: 6), crashAt: stage)) { XCTAssertTrue($0 is CheckpointStore.SimulatedCrash) }

            let folder = try XCTUnwrap(store.latestFolder(), "\(stage): no pointer")
            let state = try CheckpointStore.readState(folder: folder)
            let expected = [.afterPointer, .afterPrune].contains(stage) ? 4 : 2
            XCTAssertEqual(state.step, expected, "\(stage): the pointer names step \(state.step)")
            let resumed = try resumedTrainer(folder: folder, corpus: corpus)
            let rest = try (resumed.step..<6).map { _ in try resumed.trainStep().loss }
            XCTAssertEqual(rest, Array(reference[expected...]), "\(stage): resumed losses differ")
            try store.save(resumed, run: RunOptions(steps: 6))
            let names = try FileManager.default.contentsOfDirectory(atPath: dir)
            XCTAssertFalse(names.contains { $0.hasPrefix(".") }, "\(stage): leftovers after the next save: \(names)")
            XCTAssertEqual(try CheckpointStore.readState(folder: try XCTUnwrap(store.latestFolder())).step, 6)
        }
    }

    /// A half-written temporary checkpoint folder and a torn pointer temp file (a kill in the middle of a
    /// file write) are invisible to readers.
    func testTornTemporaryFilesAreIgnored() throws {
        let dir = try temporaryFolder(self)
        let store = CheckpointStore(directory: dir)
        let t = try tinyTrainer(spec, corpus: corpus)
        try t.trainStep()
        try store.save(t, run: RunOptions(steps: 6))
        try FileManager.default.createDirectory(atPath: dir + "/.tmp-step-00000002-999", withIntermediateDirectories: true)
        try Data(repeating: 7, count: 100).write(to: URL(fileURLWithPath: dir + "/.tmp-step-00000002-999/model.safetensors"))
        try Data("step-0000".utf8).write(to: URL(fileURLWithPath: dir + "/.latest_checkpoint.tmp-999-1"))
        let folder = try XCTUnwrap(store.latestFolder())
        XCTAssertEqual(try CheckpointStore.readState(folder: folder).step, 1)
        XCTAssertEqual(store.stepFolders().map(\.step), [1])
        _ = try CheckpointStore.load(folder: folder)
    }

    /// A flipped byte or a truncated file is reported with the file's path, never loaded.
    func testDamagedFilesAreDetected() throws {
        let dir = try temporaryFolder(self)
        let store = CheckpointStore(directory: dir)
        let t = try tinyTrainer(spec, corpus: corpus)
        try t.trainStep()
        let folder = try store.save(t, run: RunOptions(steps: 6))
        let weights = folder + "/model.safetensors"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: weights))
        bytes[bytes.count - 3] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: weights))
        XCTAssertThrowsError(try CheckpointStore.load(folder: folder)) { e in
            XCTAssertTrue("\(e)".contains("model.safetensors") && "\(e)".contains("CRC-32"), "\(e)")
        }
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: weights))
        XCTAssertThrowsError(try CheckpointStore.readState(folder: folder)) { e in XCTAssertTrue("\(e)".contains("bytes"), "\(e)") }
        try FileManager.default.removeItem(atPath: folder + "/trainer_state.json")
        XCTAssertThrowsError(try CheckpointStore.readState(folder: folder)) { e in XCTAssertTrue("\(e)".contains("trainer_state.json"), "\(e)") }
    }

    /// Only the newest `keep` checkpoints remain; each step folder is also a plain model folder.
    func testKeepsTheLastNAndStepFoldersAreModelFolders() throws {
        let dir = try temporaryFolder(self)
        let store = CheckpointStore(directory: dir, keep: 2)
        let t = try tinyTrainer(spec, corpus: corpus)
        for _ in 0..<4 { try t.trainStep(); try store.save(t, run: RunOptions(steps: 6)) }
        XCTAssertEqual(store.stepFolders().map(\.step), [3, 4])
        XCTAssertEqual(try store.latestFolder(), dir + "/step-00000004")
        let model = try GLMModel.load(dir + "/step-00000004")
        var saved = model.config
        saved.torchDtype = nil   // the writer records the dtype of the weights ("float32")
        XCTAssertEqual(saved, t.model.config)
        XCTAssertEqual(parameterBits(model), parameterBits(t.model))
        let state = try CheckpointStore.readState(folder: dir + "/step-00000004")
        XCTAssertEqual(state.microBatchesConsumed, 4)
        XCTAssertEqual(state.run, RunOptions(steps: 6))
        XCTAssertEqual(state.spec, t.spec)
    }
}
