// Resumable training checkpoints: one folder per saved step, written atomically, plus a pointer file.
//
//   <save>/latest_checkpoint            "step-00000100\n": the last COMPLETE checkpoint; written last
//   <save>/step-00000100/config.json            the model's GLMConfig (HF style)
//   <save>/step-00000100/model.safetensors      float32 weights, checkpoint key names
//   <save>/step-00000100/optimizer.safetensors  AdamW moments: "exp_avg.<key>", "exp_avg_sq.<key>"
//   <save>/step-00000100/trainer_state.json     step, optimizer step, data position, RNG seeds, the run
//                                               spec, and the size + CRC-32 of every file above
//
// A step folder is a model folder too: `GLMModel.load`, `glm convert` and `glm inspect` read it.
//
// Crash safety (kill -9 at any instant): a checkpoint is built in `<save>/.tmp-step-…-<pid>/` (every
// file fsync'ed), the folder is fsync'ed and renamed to `step-…` (atomic), the save folder fsync'ed, and
// only then the pointer is replaced atomically (temp file, fsync, rename). Until that last rename the
// pointer names the previous checkpoint, which nothing touches: old checkpoints are deleted only after
// the pointer has moved past them, by renaming them to `.trash-…` first. Leftovers of an interrupted save
// (`.tmp-*`, `.trash-*`, pointer temp files) are ignored by readers and removed by the next save.
import GLMCheckpoint
import GLMEngine
import Foundation
import GLM
import GLMSupport

/// The bookkeeping of one checkpoint (trainer_state.json).
public struct TrainerState: Codable, Sendable, Equatable {
    public static let formatName = "swiftglm-training-checkpoint"
    public static let currentVersion = 1

    public struct FileRecord: Codable, Sendable, Equatable {
        public var bytes: Int
        public var crc32: String
    }

    public var format = formatName
    public var version = currentVersion
    /// Optimizer steps completed.
    public var step: Int
    /// AdamW's own step counter (bias correction); equals `step` unless steps were skipped.
    public var optimizerStep: Int64
    /// How the run was driven (`--steps`, eval and save intervals): a resumed run uses these unless
    /// the command line gives others (they do not change the numbers of the training steps).
    public var run: RunOptions
    /// The data position: micro-batches consumed (= step × gradient accumulation).
    public var microBatchesConsumed: Int
    /// Random state. Every stream is derived from the run seed and a position, so the seed and the
    /// step ARE the state: data stream = batch index, dropout stream = (step, micro-batch).
    public var seed: UInt64
    public var spec: TrainingSpec
    /// Tensor model parallelism: the number of `mp_rank_XX_model_states.pt` / `mp_rank_XX_optimizer.safetensors`
    /// pairs the weights and moments are split into (see CheckpointStore+ModelParallel.swift); nil: one
    /// `model.safetensors` and one `optimizer.safetensors`. Either loads at any model-parallel size.
    public var modelParallelSize: Int? = nil
    /// Size and CRC-32 of each file of the folder, checked before resuming.
    public var files: [String: FileRecord]
    public var savedAt: String
}

/// Reads and writes the checkpoints of one save folder.
public struct CheckpointStore: Sendable {
    public static let pointerFile = "latest_checkpoint"
    public static let stateFile = "trainer_state.json"
    public static let modelFile = "model.safetensors"
    public static let optimizerFile = "optimizer.safetensors"

    public let directory: String
    /// Complete checkpoints to keep (older ones are deleted after a successful save); 0 keeps all.
    public let keep: Int

    /// Points at which a save can be interrupted, for crash tests (`save(…, crashAt:)`).
    public enum SaveStage: String, CaseIterable, Sendable {
        case afterModel, afterOptimizer, afterState, afterRename, afterPointerTemp, afterPointer, afterPrune
    }

    public struct SimulatedCrash: Error {}

    public init(directory: String, keep: Int = 3) {
        self.directory = directory
        self.keep = max(0, keep)
    }

    public static func folderName(step: Int) -> String { String(format: "step-%08d", step) }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    // MARK: reading

    /// The folder the pointer names, or nil when the save folder holds no checkpoint yet.
    public func latestFolder() throws -> String? {
        let pointer = path(Self.pointerFile)
        guard FileManager.default.fileExists(atPath: pointer) else { return nil }
        let raw: String
        do { raw = try String(contentsOfFile: pointer, encoding: .utf8) } catch {
            throw TrainingError.checkpoint(path: pointer, "unreadable pointer file (\(error.localizedDescription))")
        }
        let name = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard name.hasPrefix("step-"), !name.contains("/") else {
            throw TrainingError.checkpoint(path: pointer, "holds \"\(raw)\", not a step folder name")
        }
        return path(name)
    }

    /// Complete step folders present (whatever the pointer says), oldest first.
    public func stepFolders() -> [(step: Int, name: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { n -> (Int, String)? in
            guard n.hasPrefix("step-"), let s = Int(n.dropFirst(5)) else { return nil }
            return (s, n)
        }.sorted { $0.0 < $1.0 }
    }

    /// Reads and verifies a checkpoint folder: its state, the size and CRC-32 of every file.
    public static func readState(folder: String) throws -> TrainerState {
        let statePath = (folder as NSString).appendingPathComponent(stateFile)
        let state: TrainerState
        do {
            state = try JSONDecoder().decode(TrainerState.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
        } catch {
            throw TrainingError.checkpoint(path: statePath, "missing or unreadable (\(error.localizedDescription)); not a complete training checkpoint")
        }
        guard state.format == TrainerState.formatName, state.version == TrainerState.currentVersion else {
            throw TrainingError.checkpoint(path: statePath, "format \(state.format) v\(state.version) is not \(TrainerState.formatName) v\(TrainerState.currentVersion)")
        }
        for (name, record) in state.files.sorted(by: { $0.key < $1.key }) {
            let p = (folder as NSString).appendingPathComponent(name)
            let file = try MappedFile(dataFile: p)
            guard file.count == record.bytes else {
                throw TrainingError.checkpoint(path: p, "is \(file.count) bytes, the checkpoint recorded \(record.bytes): damaged")
            }
            let crc = checksum(file.bytes)
            guard crc == record.crc32 else {
                throw TrainingError.checkpoint(path: p, "CRC-32 \(crc) differs from the recorded \(record.crc32): damaged")
            }
        }
        return state
    }

    /// Loads a verified checkpoint: the state, the model, and the optimizer moments in parameter order.
    public static func load(folder: String) throws -> (state: TrainerState, model: GLMModel, expAvg: [Tensor], expAvgSq: [Tensor]) {
        let state = try readState(folder: folder)
        if let m = state.modelParallelSize { return try loadModelParallel(folder: folder, state: state, size: m) }
        let weights = try SafetensorsFile(path: (folder as NSString).appendingPathComponent(modelFile))
        var dict: StateDict = [:]
        for (n, t) in try weights.tensors() { dict[n] = t }
        let model = try GLMModel(config: state.spec.model, stateDict: dict)
        let opt = try SafetensorsFile(path: (folder as NSString).appendingPathComponent(optimizerFile))
        func moment(_ prefix: String, _ p: Parameter) throws -> Tensor {
            let key = prefix + "." + p.name
            let data = try opt.tensor(key)
            guard data.shape == p.shape, data.dtype == .float32 else {
                throw TrainingError.checkpoint(path: opt.path, "tensor \(key) is \(data), expected float32\(p.shape)")
            }
            let t = Tensor(uninitialized: p.shape)
            data.copyFloats(into: UnsafeMutableBufferPointer(start: t.floats, count: t.count))
            return t
        }
        let params = model.parameters
        return (state, model, try params.map { try moment("exp_avg", $0) }, try params.map { try moment("exp_avg_sq", $0) })
    }

    // MARK: writing

    /// Saves the trainer's current state as checkpoint `step-<trainer.step>` and moves the pointer to it.
    /// `crashAt` stops the save at that stage as a kill -9 would (nothing cleaned up), for tests.
    /// `moments`: the AdamW moments to store (nil: the trainer's optimizer's; data-parallel ZeRO-1 runs pass
    /// `trainer.checkpointMoments()`, gathered from every rank).
    @discardableResult
    public func save(_ trainer: Trainer, run: RunOptions, moments: (expAvg: [Tensor], expAvgSq: [Tensor])? = nil,
                     crashAt: SaveStage? = nil) throws -> String {
        func stage(_ s: SaveStage) throws { if s == crashAt { throw SimulatedCrash() } }
        try AtomicFileWriter.makeDirectories(directory, errors: CheckpointError.fromFileSystem)
        removeLeftovers()
        let name = Self.folderName(step: trainer.step)
        let final = path(name)
        if let current = try? latestFolder(), current == final, (try? Self.readState(folder: final))?.step == trainer.step {
            return final   // this exact state is already the latest checkpoint (e.g. a resumed run that took no step)
        }
        let temp = path(".tmp-\(name)-\(getpid())")
        try AtomicFileWriter.makeDirectories(temp, errors: CheckpointError.fromFileSystem)
        var records: [String: TrainerState.FileRecord] = [:]
        func record(_ file: String) throws {
            let p = (temp as NSString).appendingPathComponent(file)
            let m = try MappedFile(dataFile: p)
            records[file] = .init(bytes: m.count, crc32: Self.checksum(m.bytes))
        }
        let model = trainer.model
        try Safetensors.write(model.stateDict(), to: temp + "/" + Self.modelFile, metadata: ["format": "pt"])
        try model.config.save(path: temp + "/config.json")
        try record(Self.modelFile); try record("config.json")
        try stage(.afterModel)
        let (expAvg, expAvgSq) = moments ?? (trainer.optimizer.exp_avg, trainer.optimizer.exp_avg_sq)
        var stored: [(String, TensorData)] = []
        for (i, p) in model.parameters.enumerated() {
            stored.append(("exp_avg." + p.name, TensorData(float32: expAvg[i].toFloats(), shape: p.shape)))
            stored.append(("exp_avg_sq." + p.name, TensorData(float32: expAvgSq[i].toFloats(), shape: p.shape)))
        }
        try Safetensors.write(stored, to: temp + "/" + Self.optimizerFile,
                              metadata: ["format": "swiftglm-adamw", "step": String(trainer.optimizerStep)])
        try record(Self.optimizerFile)
        try stage(.afterOptimizer)
        let state = TrainerState(step: trainer.step, optimizerStep: trainer.optimizerStep, run: run,
                                 microBatchesConsumed: trainer.microBatchesConsumed, seed: trainer.spec.seed,
                                 spec: trainer.spec, files: records, savedAt: ISO8601DateFormatter().string(from: Date()))
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.write(Array(try e.encode(state)), to: temp + "/" + Self.stateFile, errors: CheckpointError.fromFileSystem)
        AtomicFileWriter.syncDirectory(temp)
        try stage(.afterState)
        if FileManager.default.fileExists(atPath: final) {
            // A complete folder of the same step that the pointer does not name (a run that crashed after
            // renaming it): set it aside first, then replace it.
            try rename(final, to: path(".trash-\(name)-\(getpid())"))
        }
        try rename(temp, to: final)
        AtomicFileWriter.syncDirectory(directory)
        try stage(.afterRename)
        let pointer = path(Self.pointerFile)
        if crashAt == .afterPointerTemp {
            // What a kill during the pointer write leaves: a half-written temporary file beside the old pointer.
            try Data("step-".utf8).write(to: URL(fileURLWithPath: path(".\(Self.pointerFile).tmp-\(getpid())-0")))
            throw SimulatedCrash()
        }
        try AtomicFileWriter.write(Array("\(name)\n".utf8), to: pointer, errors: CheckpointError.fromFileSystem)
        try stage(.afterPointer)
        prune(except: name)
        try stage(.afterPrune)
        removeLeftovers()
        return final
    }

    /// Deletes complete checkpoints beyond the newest `keep` (never the one the pointer names).
    func prune(except current: String) {
        guard keep > 0 else { return }
        let folders = stepFolders().filter { $0.name != current }
        let excess = folders.count + 1 - keep
        guard excess > 0 else { return }
        for f in folders.prefix(excess) {
            let trash = path(".trash-\(f.name)-\(getpid())")
            if (try? rename(path(f.name), to: trash)) != nil { try? FileManager.default.removeItem(atPath: trash) }
        }
    }

    /// Removes what interrupted saves leave behind (temporary folders, trash, pointer temp files).
    func removeLeftovers() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for n in names where n.hasPrefix(".tmp-step-") || n.hasPrefix(".trash-step-") || n.hasPrefix(".\(Self.pointerFile).tmp-") {
            try? FileManager.default.removeItem(atPath: path(n))
        }
    }

    func rename(_ from: String, to: String) throws {
        guard Foundation.rename(from, to) == 0 else {
            throw TrainingError.checkpoint(path: from, "cannot rename to \(to) (errno \(errno): \(String(cString: strerror(errno))))")
        }
    }

    static func checksum(_ bytes: UnsafeRawBufferPointer) -> String {
        var c = CRC32()
        c.update(bytes)
        return String(format: "%08x", c.value)
    }
}
