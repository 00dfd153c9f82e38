import Foundation
import GLMCheckpoint
import GLMEngine

/// Loading a model converted to bf16 or int8 (`glm convert --dtype bf16|int8`) MEMORY-MAPPED for
/// inference, without a float32 copy of its big matrices (GLM-10B: 40 GB in fp32, 19.7 GB in bf16,
/// 10 GB in int8).
///
/// * The transformer layers' four linear weights stay in the file: each becomes an `inferenceOnly`
///   Parameter (right shape, no memory behind it) with installed inference weights that read the mapped
///   bytes in place — `PlainBF16Linear` (bf16 [out, in], fp32 math) or `Int8PackedLinear` over the
///   file's int8 rows and per-row scales (the same kernel and format as float32 weights packed to int8).
///   Pages are read from the page cache as the layers run; nothing is reordered or copied.
/// * The small tensors (LayerNorms, biases, position tables) and the word embedding are float32 copies:
///   the embedding gather and the block-position lookups read float32 rows. The word embedding is the
///   one large copy (vocab × hidden × 4 bytes: 0.8 GB for GLM-10B, under 10 % of the int8 model). Its
///   tied output projection (the logits) reads the file's BF16 table in place, for bf16 and int8 models
///   alike (int8 decoding weights keep that matrix bf16, as for a float32 model decoded with int8 weights).
/// * Training such a model is refused (`Tape.linear` throws on a gradient through installed weights).
public enum MappedModel {
    /// The storage of the big weights of a converted model, or nil when the files are not a bf16/int8
    /// conversion (then the ordinary float32 loader applies).
    public static func storage(of path: String) -> GEMMInputType? { inspect(path)?.storage }

    /// The storage of a converted model's big weights and its parameter count (from the file headers
    /// only), or nil when the files are not a bf16/int8 conversion.
    public static func inspect(_ path: String) -> (storage: GEMMInputType, parameters: Int)? {
        guard let located = try? ModelFiles.locate(path),
              located.layout == .safetensors || located.layout == .shardedSafetensors,
              let files = try? located.files.map({ try SafetensorsFile(path: $0) }) else { return nil }
        let parameters = files.reduce(0) { sum, f in
            sum + f.infos.filter { !$0.key.hasSuffix(Int8Weights.scaleSuffix) }.values.reduce(0) { $0 + $1.shape.reduce(1, *) }
        }
        if files.contains(where: Int8Weights.isInt8File) { return (.int8, parameters) }
        var sawLinear = false
        for f in files {
            for (name, info) in f.infos where Int8Weights.isQuantized(name, shape: info.shape) {
                guard info.dtype == .bfloat16 else { return nil }
                sawLinear = true
            }
        }
        return sawLinear ? (.bfloat16, parameters) : nil
    }

    /// Loads the model at `path` (a bf16 or int8 conversion in safetensors, single or sharded) mapped.
    /// Throws a clear error (naming the file and tensor) for anything else or for a damaged file.
    public static func load(_ path: String, options: ModelLoadOptions = ModelLoadOptions()) throws -> (model: GLMModel, storage: GEMMInputType) {
        let located = try ModelFiles.locate(path)
        guard located.layout == .safetensors || located.layout == .shardedSafetensors else {
            throw CheckpointError(.unsupported, file: located.path,
                                  "memory-mapped loading needs a bf16 or int8 safetensors conversion (glm convert --dtype bf16|int8), not a \(located.layout.rawValue) checkpoint")
        }
        let files = try located.files.map { try SafetensorsFile(path: $0) }
        let int8 = files.contains(where: Int8Weights.isInt8File)
        var fileOf: [String: SafetensorsFile] = [:]
        var shapes: [String: TensorShape] = [:]
        for f in files {
            for n in f.names {
                let info = f.infos[n]!
                if int8 && n.hasSuffix(Int8Weights.scaleSuffix),
                   f.infos[String(n.dropLast(Int8Weights.scaleSuffix.count))]?.dtype == .int8 { continue }
                let name = ModelFiles.normalizedName(n)
                guard fileOf[name] == nil else {
                    throw CheckpointError(.malformed, file: f.path, "tensor '\(name)' appears twice (in two shards?)")
                }
                fileOf[name] = f
                // An int8 matrix stands for a float matrix of the same shape.
                shapes[name] = TensorShape(dtype: info.dtype == .int8 && int8 ? .float32 : info.dtype, shape: info.shape)
            }
        }
        var (config, _) = try ModelFiles.resolveConfig(located: located, shapes: shapes, options: options)
        try config.validate(shapes: shapes, source: located.path)
        let storage: GEMMInputType = int8 ? .int8 : .bfloat16
        config.torchDtype = int8 ? "int8" : "bfloat16"

        /// The file tensor behind a model name (HF names may carry `glm.`).
        func fileTensor(_ name: String) throws -> (SafetensorsFile, String) {
            let f = fileOf[name]!
            return (f, f.infos[name] != nil ? name : "glm." + name)
        }
        var big: [String: (SafetensorsFile, String)] = [:]
        let model = try GLMModel(config: config) { name, shape in
            let (f, stored) = try fileTensor(name)
            let info = f.infos[stored]!
            if Int8Weights.isQuantized(name, shape: shape) {
                let expected: StoredDType = int8 ? .int8 : .bfloat16
                guard info.dtype == expected else {
                    throw CheckpointError(.shapeMismatch, file: f.path,
                                          "tensor '\(stored)' is \(info.dtype.rawValue); a memory-mapped \(storage.shortName) model needs \(expected.rawValue) layer weights")
                }
                big[name] = (f, stored)
                return Tensor(storage: try Storage(reservedInaccessible: shape.reduce(1, *) * 4), shape: shape, dtype: .float32)
            }
            let data = try f.tensor(stored)
            guard data.dtype.isFloatingPoint else {
                throw CheckpointError(.shapeMismatch, file: f.path, "tensor '\(stored)' has non-float dtype \(data.dtype.rawValue)")
            }
            let t = Tensor(uninitialized: shape)
            data.copyFloats(into: UnsafeMutableBufferPointer(start: t.floats, count: t.count))
            data.releaseMappedPages()
            return t
        }
        for layer in model.transformer.layers {
            for l in [layer.attention.query_key_value, layer.attention.dense, layer.mlp.dense_h_to_4h, layer.mlp.dense_4h_to_h] {
                let w = l.weight
                let (f, stored) = big[w.name]!
                let out = w.shape[0], inFeatures = w.shape[1]
                let packed: any PackedLinearWeights
                if int8 {
                    let (q, scale) = try Int8Weights.quantizedPair(f, stored)
                    let scales = try AlignedFloats(scale)
                    packed = try Int8PackedLinear(quantized: q.baseAddress!.assumingMemoryBound(to: Int8.self),
                                                  scales: scales.pointer, bias: l.bias.value.floats,
                                                  outFeatures: out, inFeatures: inFeatures, owner: Owners([q.keepAlive, scales]))
                } else {
                    let t = try f.tensor(stored)
                    packed = try PlainBF16Linear(weights: t.baseAddress!, bias: l.bias.value.floats, outFeatures: out,
                                                 inFeatures: inFeatures, owner: t.keepAlive)
                }
                try w.installInferenceWeights(packed, storage: storage, bias: l.bias)
                w.isFrozen = true
            }
        }
        // The tied output projection reads the file's bf16 table in place (no second packed copy), for an
        // int8 file too: int8 decoding weights keep that matrix bf16 (`Parameter.quantizesToInt8`).
        let (f, stored) = try fileTensor("word_embeddings.weight")
        let t = try f.tensor(stored)
        if t.dtype == .bfloat16 {
            let w = model.word_embeddings.weight
            try w.installInferenceWeights(try PlainBF16Linear(weights: t.baseAddress!, bias: nil, outFeatures: w.shape[0],
                                                              inFeatures: w.shape[1], owner: t.keepAlive),
                                          storage: .bfloat16, bias: nil)
        }
        return (model, storage)
    }
}

/// Keeps several owners of mapped bytes alive together.
final class Owners {
    let all: [AnyObject]
    init(_ all: [AnyObject]) { self.all = all }
}

/// Per-row scales as 4-byte-aligned floats: the mapped bytes themselves when aligned (the usual case:
/// every tensor before them has a byte size divisible by 4), else a copy (one float per row).
final class AlignedFloats {
    let pointer: UnsafePointer<Float>
    private let owner: AnyObject

    init(_ t: TensorData) throws {
        let p = t.baseAddress!
        if Int(bitPattern: p) % MemoryLayout<Float>.alignment == 0 {
            pointer = p.assumingMemoryBound(to: Float.self)
            owner = t.keepAlive
        } else {
            let c = UnsafeMutablePointer<Float>.allocate(capacity: t.elementCount)
            t.copyFloats(into: UnsafeMutableBufferPointer(start: c, count: t.elementCount))
            pointer = UnsafePointer(c)
            owner = FloatBlock(c)
        }
    }
}

final class FloatBlock {
    let p: UnsafeMutablePointer<Float>
    init(_ p: UnsafeMutablePointer<Float>) { self.p = p }
    deinit { p.deallocate() }
}
