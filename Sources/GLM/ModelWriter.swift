import GLMCheckpoint
import Foundation
import GLMSupport

/// Writes models in the two layouts users exchange: safetensors + config.json (what SwiftGLM and HF
/// tools load fastest), and the original training-checkpoint folder split into N model-parallel ranks
/// (what the original code and `change_mp.py` read). Every file is written atomically.
public enum ModelWriter {
    /// `folder/model.safetensors` (or shards + `model.safetensors.index.json` when `maxShardBytes` is
    /// given and the model is larger) and `folder/config.json`. Floating tensors are converted to
    /// `dtype` on the fly, tensor by tensor (memory stays near one tensor beyond the mapped sources).
    public static func saveSafetensors(config: GLMConfig, weights: StateDict, to folder: String,
                                       dtype: StoredDType? = nil, maxShardBytes: Int? = nil) throws {
        try AtomicFileWriter.makeDirectories(folder, errors: CheckpointError.fromFileSystem)
        let ordered = try orderedWeights(config: config, weights: weights, folder: folder)
        var cfg = config
        cfg.torchDtype = torchDtypeName(dtype ?? dominantDType(weights))
        let total = ordered.reduce(0) { $0 + $1.1.elementCount * Safetensors.target($1.1.dtype, dtype).byteSize }
        if let maxShardBytes, total > maxShardBytes {
            try Safetensors.writeSharded(ordered, folder: folder, maxShardBytes: maxShardBytes, dtype: dtype)
        } else {
            try Safetensors.write(ordered, to: folder + "/model.safetensors", dtype: dtype)
        }
        try cfg.save(path: folder + "/config.json")
    }

    /// The original layout: `folder/<tag>/mp_rank_XX_model_states.pt` holding
    /// `{'iteration': N, 'module': OrderedDict}` split by `change_mp.py`'s rule, the tracker files
    /// `latest_checkpointed_iteration.txt` and `latest` (both "tag\n", as `change_mp.py` writes them),
    /// and `folder/config.json` (ignored by the original code, used by SwiftGLM).
    /// `iteration` nil → tag `release` with iteration 0 (what the original treats as a finished model).
    public static func saveTrainingCheckpoint(config: GLMConfig, weights: StateDict, to folder: String,
                                              modelParallel: Int = 1, iteration: Int? = nil, dtype: StoredDType? = nil) throws {
        guard modelParallel >= 1 else {
            throw CheckpointError(.config, file: folder, "model-parallel size must be at least 1 (got \(modelParallel))")
        }
        let ordered = try orderedWeights(config: config, weights: weights, folder: folder)
        let tag = iteration.map(String.init) ?? "release"
        let tagFolder = folder + "/" + tag
        try AtomicFileWriter.makeDirectories(tagFolder, errors: CheckpointError.fromFileSystem)
        for rank in 0..<modelParallel {
            let file = tagFolder + "/" + String(format: "mp_rank_%02d_model_states.pt", rank)
            // One rank at a time: split copies exist only for this rank's tensors.
            let module: [(String, TorchSaveValue)] = try ordered.map { name, t in
                let part = try ModelParallel.split(t, name: name, rank: rank, of: modelParallel, file: file)
                if modelParallel > 1 { t.releaseMappedPages() } // the copy is made; the source pages can go
                return (name, .tensor(part))
            }
            try TorchWriter.write(.dict([("iteration", .int(iteration ?? 0)), ("module", .orderedDict(module))]),
                                  to: file, dtype: dtype)
        }
        for tracker in ModelFiles.trackerFiles {
            try AtomicFileWriter.write(Array("\(tag)\n".utf8), to: folder + "/" + tracker, errors: CheckpointError.fromFileSystem)
        }
        var cfg = config
        cfg.torchDtype = torchDtypeName(dtype ?? dominantDType(weights))
        try cfg.save(path: folder + "/config.json")
    }

    static func orderedWeights(config: GLMConfig, weights: StateDict, folder: String) throws -> [(String, TensorData)] {
        try config.validate(weights: weights, source: folder)
        return config.parameterSpecs.map { ($0.name, weights[$0.name]!) }
    }

    static func dominantDType(_ weights: StateDict) -> StoredDType {
        let counts = weights.values.reduce(into: [StoredDType: Int]()) { $0[$1.dtype, default: 0] += $1.elementCount }
        return counts.max { $0.value < $1.value }?.key ?? .float32
    }

    static func torchDtypeName(_ d: StoredDType) -> String {
        switch d {
        case .float16: return "float16"
        case .bfloat16: return "bfloat16"
        case .float64: return "float64"
        default: return "float32"
        }
    }
}
