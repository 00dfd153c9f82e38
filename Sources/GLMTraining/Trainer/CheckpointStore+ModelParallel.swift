// Checkpoints of a model split over a model-parallel group (tensor model parallelism):
//
//   <save>/step-00000100/mp_rank_00_model_states.pt        rank 0's partition, the original's layout
//   <save>/step-00000100/mp_rank_01_model_states.pt        ({'iteration': N, 'module': OrderedDict})
//   <save>/step-00000100/mp_rank_00_optimizer.safetensors  rank 0's AdamW moments ("exp_avg.<key>", …),
//   <save>/step-00000100/mp_rank_01_optimizer.safetensors  split exactly like the weights
//   <save>/step-00000100/config.json, trainer_state.json   (modelParallelSize = M)
//
// Each model-parallel rank writes its own two files (its data-parallel rank 0 does); global rank 0 then,
// after a barrier over the whole job, records every file's size and CRC-32, writes trainer_state.json,
// renames the folder into place and moves the pointer — the same crash-safety sequence as `save`.
//
// WHY the moments are split like the weights (and not gathered): each rank writes only what it holds,
// and the layout is still independent of M: loading merges weights AND moments with `ModelParallel.merge`
// (the exact inverse of the split), so a checkpoint written at any M resumes at any other M (the session
// splits the merged model again), and `glm convert`/`generate` read the folder as an original
// model-parallel checkpoint.
import Foundation
import GLM
import GLMCheckpoint
import GLMEngine
import GLMSupport

extension CheckpointStore {
    public static func modelParallelModelFile(rank: Int) -> String { String(format: "mp_rank_%02d_model_states.pt", rank) }
    public static func modelParallelOptimizerFile(rank: Int) -> String { String(format: "mp_rank_%02d_optimizer.safetensors", rank) }

    /// Saves the checkpoint of a model-parallel run; every rank of the job calls it (collective).
    /// - moments: this rank's partition of the AdamW moments (full over its data-parallel group).
    /// - writes: this rank writes its partition's files (data-parallel rank 0 of each model-parallel rank).
    /// - root: global rank 0 (writes the state, the rename and the pointer).
    /// - barrier: a barrier over every rank of the job.
    @discardableResult
    public func saveModelParallel(_ trainer: Trainer, run: RunOptions, moments: (expAvg: [Tensor], expAvgSq: [Tensor]),
                                  writes: Bool, root: Bool, barrier: () throws -> Void) throws -> String {
        let model = trainer.model
        guard let group = model.modelParallel else { throw TrainingError.invalidOption("saveModelParallel: the model is not split") }
        let name = Self.folderName(step: trainer.step)
        let final = path(name)
        // Every rank takes the same decision from the same files (nothing is written before the barrier).
        if let current = try? latestFolder(), current == final, (try? Self.readState(folder: final))?.step == trainer.step {
            try barrier()
            return final
        }
        // One temporary folder for all ranks: a fixed name (no pid: the ranks are different processes);
        // a leftover of an interrupted save is removed first, as every `.tmp-step-…` is.
        let temp = path(".tmp-\(name)-model-parallel")
        if root {
            try AtomicFileWriter.makeDirectories(directory, errors: CheckpointError.fromFileSystem)
            removeLeftovers()
            try AtomicFileWriter.makeDirectories(temp, errors: CheckpointError.fromFileSystem)
        }
        try barrier()
        if writes {
            let r = group.rank
            let module: [(String, TorchSaveValue)] = model.parameters.map { p in
                (p.name, .tensor(TensorData(float32: p.value.toFloats(), shape: p.shape)))
            }
            try TorchWriter.write(.dict([("iteration", .int(trainer.step)), ("module", .orderedDict(module))]),
                                  to: temp + "/" + Self.modelParallelModelFile(rank: r))
            var stored: [(String, TensorData)] = []
            for (i, p) in model.parameters.enumerated() {
                stored.append(("exp_avg." + p.name, TensorData(float32: moments.expAvg[i].toFloats(), shape: p.shape)))
                stored.append(("exp_avg_sq." + p.name, TensorData(float32: moments.expAvgSq[i].toFloats(), shape: p.shape)))
            }
            try Safetensors.write(stored, to: temp + "/" + Self.modelParallelOptimizerFile(rank: r),
                                  metadata: ["format": "swiftglm-adamw", "step": String(trainer.optimizerStep),
                                             "model_parallel_rank": String(r), "model_parallel_size": String(group.size)])
        }
        try barrier()
        if root {
            try model.config.save(path: temp + "/config.json")
            var records: [String: TrainerState.FileRecord] = [:]
            let files = ["config.json"] + (0..<group.size).flatMap { [Self.modelParallelModelFile(rank: $0), Self.modelParallelOptimizerFile(rank: $0)] }
            for file in files {
                let m = try MappedFile(dataFile: temp + "/" + file)
                records[file] = .init(bytes: m.count, crc32: Self.checksum(m.bytes))
            }
            var state = TrainerState(step: trainer.step, optimizerStep: trainer.optimizerStep, run: run,
                                     microBatchesConsumed: trainer.microBatchesConsumed, seed: trainer.spec.seed,
                                     spec: trainer.spec, files: records, savedAt: ISO8601DateFormatter().string(from: Date()))
            state.modelParallelSize = group.size
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFileWriter.write(Array(try e.encode(state)), to: temp + "/" + Self.stateFile, errors: CheckpointError.fromFileSystem)
            AtomicFileWriter.syncDirectory(temp)
            if FileManager.default.fileExists(atPath: final) { try rename(final, to: path(".trash-\(name)-\(getpid())")) }
            try rename(temp, to: final)
            AtomicFileWriter.syncDirectory(directory)
            try AtomicFileWriter.write(Array("\(name)\n".utf8), to: path(Self.pointerFile), errors: CheckpointError.fromFileSystem)
            prune(except: name)
            removeLeftovers()
        }
        try barrier()
        return final
    }

    /// Loads a model-parallel checkpoint (verified by `readState`) as ONE model: the mp_rank_XX weights
    /// merged by `ModelFiles` and the moments merged by the same rule, in parameter order.
    static func loadModelParallel(folder: String, state: TrainerState, size: Int) throws
        -> (state: TrainerState, model: GLMModel, expAvg: [Tensor], expAvgSq: [Tensor]) {
        let loaded = try ModelFiles.load(folder)
        guard loaded.modelParallelSize == size else {
            throw TrainingError.checkpoint(path: folder, "holds \(loaded.modelParallelSize) model-parallel weight files, trainer_state.json says \(size)")
        }
        let model = try GLMModel(config: state.spec.model, stateDict: loaded.weights)
        let paths = (0..<size).map { (folder as NSString).appendingPathComponent(modelParallelOptimizerFile(rank: $0)) }
        let files = try paths.map { try SafetensorsFile(path: $0) }
        func moment(_ prefix: String, _ p: Parameter) throws -> Tensor {
            let key = prefix + "." + p.name
            let merged = try ModelParallel.merge(try files.map { try $0.tensor(key) }, name: p.name, files: paths)
            guard merged.shape == p.shape, merged.dtype == .float32 else {
                throw TrainingError.checkpoint(path: paths[0], "tensor \(key) merges to \(merged), expected float32\(p.shape)")
            }
            let t = Tensor(uninitialized: p.shape)
            merged.copyFloats(into: UnsafeMutableBufferPointer(start: t.floats, count: t.count))
            return t
        }
        let params = model.parameters
        return (state, model, try params.map { try moment("exp_avg", $0) }, try params.map { try moment("exp_avg_sq", $0) })
    }
}
