import Foundation
import GLMCheckpoint
import GLMEngine
import GLMSupport

/// Writes a random model of any config's shapes in the ORIGINAL training layout (tracker files →
/// `<tag>/mp_rank_XX_model_states.pt` with the weights under `module`, split by `change_mp.py`'s rule
/// into N model-parallel ranks), streaming: every rank's tensors are generated block by block while
/// the zip entry is written, so memory stays at one block even for GLM-10B (19.7 GB in fp16).
///
/// WHY: the published 10B checkpoint cannot be downloaded here; a random one of the same shapes and
/// layout exercises exactly the same conversion, loading and decoding paths and memory limits.
///
/// Values follow the original's initialisation scale (get_model / init_method_normal): matrices and
/// embeddings std 0.02, the output projections (attention.dense, dense_4h_to_h) std 0.02/√(2·layers),
/// biases 0, LayerNorm weights 1, so activations stay in a sane range. The draws are Irwin–Hall sums of
/// four uniforms (mean 0, variance exactly that of the normal, tails cut at ±2√3 σ): one 64-bit random
/// number per weight keeps 10 G draws at memory speed. Replicated tensors are identical on every rank.
public enum RandomCheckpoint {
    public static let blockElements = 1 << 20

    /// - progress: (bytes written, total bytes) after each tensor.
    public static func write(config: GLMConfig, to folder: String, modelParallel: Int, dtype: StoredDType = .float16,
                             seed: UInt64 = 1, iteration: Int? = nil,
                             progress: ((_ written: Int, _ total: Int) -> Void)? = nil) throws {
        guard modelParallel >= 1 else {
            throw CheckpointError(.config, file: folder, "model-parallel size must be at least 1 (got \(modelParallel))")
        }
        guard dtype.isFloatingPoint else {
            throw CheckpointError(.config, file: folder, "a random checkpoint needs a float dtype, not \(dtype.rawValue)")
        }
        try config.validate(file: folder)
        let specs = config.parameterSpecs
        let tag = iteration.map(String.init) ?? "release"
        try AtomicFileWriter.makeDirectories(folder + "/" + tag, errors: CheckpointError.fromFileSystem)
        // Split tensors once in all, replicated ones once per rank.
        let total = specs.reduce(0) { sum, spec in
            let n = spec.shape.reduce(1, *) * dtype.byteSize
            return sum + (ModelParallel.partition(name: spec.name, rank: spec.shape.count) == .replicated ? n * modelParallel : n)
        }
        var written = 0
        let std = Float(config.initializerRange)
        let scaled = std / Float(2 * config.numLayers).squareRoot()
        for rank in 0..<modelParallel {
            let file = folder + "/" + tag + "/" + String(format: "mp_rank_%02d_model_states.pt", rank)
            var module: [(String, TorchSaveValue)] = []
            for (index, spec) in specs.enumerated() {
                let p = ModelParallel.partition(name: spec.name, rank: spec.shape.count)
                var shape = spec.shape
                switch p {
                case .replicated: break
                case .rows, .qkvRows:
                    guard shape[0] % ((p == .qkvRows ? 3 : 1) * modelParallel) == 0 else {
                        throw CheckpointError(.shapeMismatch, file: file, "tensor '\(spec.name)' \(spec.shape) cannot be split into \(modelParallel) ranks")
                    }
                    shape[0] /= modelParallel
                case .columns:
                    guard shape[1] % modelParallel == 0 else {
                        throw CheckpointError(.shapeMismatch, file: file, "tensor '\(spec.name)' \(spec.shape) cannot be split into \(modelParallel) ranks")
                    }
                    shape[1] /= modelParallel
                }
                let name = spec.name
                let fill: Float? = name.hasSuffix("layernorm.weight") ? 1 : name.hasSuffix(".bias") ? 0 : nil
                let s = name.hasSuffix("attention.dense.weight") || name.hasSuffix("dense_4h_to_h.weight") ? scaled : std
                // Replicated tensors: one stream for all ranks; split ones: one per rank.
                let streamSeed = seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(index) &* 1_000_003
                    &+ (p == .replicated ? 0 : UInt64(rank + 1) &* 0xD1B5_4A32_D192_ED03)
                let count = shape.reduce(1, *)
                module.append((name, .streamed(StreamedTensor(dtype: dtype, shape: shape) { emit in
                    try produce(count: count, dtype: dtype, fill: fill, std: s, seed: streamSeed, emit: emit)
                    written += count * dtype.byteSize
                    progress?(written, total)
                })))
            }
            try TorchWriter.write(.dict([("iteration", .int(iteration ?? 0)), ("module", .orderedDict(module))]), to: file)
        }
        for tracker in ModelFiles.trackerFiles {
            try AtomicFileWriter.write(Array("\(tag)\n".utf8), to: folder + "/" + tracker, errors: CheckpointError.fromFileSystem)
        }
        var cfg = config
        cfg.torchDtype = ModelWriter.torchDtypeName(dtype)
        try cfg.save(path: folder + "/config.json")
    }

    /// Emits `count` values (constant `fill`, or random with standard deviation `std`) in blocks.
    static func produce(count: Int, dtype: StoredDType, fill: Float?, std: Float, seed: UInt64,
                        emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var rng = SplitMix64(seed: seed)
        let block = min(count, blockElements)
        var floats = [Float](repeating: fill ?? 0, count: block)
        // (Σ of 4 uniforms on (0, 1) − 2)·√3 has mean 0 and variance 1.
        let k = std * Float(3.0.squareRoot()) / 65536
        var done = 0
        while done < count {
            let n = min(block, count - done)
            if fill == nil {
                for i in 0..<n {
                    let r = rng.next()
                    let a = Int32(truncatingIfNeeded: r & 0xFFFF) + Int32(truncatingIfNeeded: (r >> 16) & 0xFFFF)
                    let b = Int32(truncatingIfNeeded: (r >> 32) & 0xFFFF) + Int32(truncatingIfNeeded: r >> 48)
                    floats[i] = Float(a + b - 131_070) * k  // Σ(u + 0.5) − 2·65536 = a + b + 2 − 131072
                }
            }
            let data = floats.withUnsafeBytes { try! TensorData(dtype: .float32, shape: [n], bytes: UnsafeRawBufferPointer(rebasing: $0[0..<(n * 4)])) }
            let c = data.converted(to: dtype)
            try c.withUnsafeBytes { try emit($0) }
            done += n
        }
    }
}
