/// The int8 weight format of `glm convert --dtype int8` inside an ordinary safetensors file, so that
/// any safetensors reader can list it and the file says what it holds:
///
/// * metadata `"glm.weights": "int8-per-row-v1"`;
/// * a quantised matrix `<name>` is `I8 [out, in]` plus `<name>.scale` `F32 [out]`, stored right after
///   it, with `W[n, k] ≈ <name>.scale[n] · <name>[n, k]` (symmetric, per output row: scale = max|W[n, :]|
///   / 127, q = round-half-even(W / scale) ∈ [−127, 127] — exactly the quantiser of SwiftGLM's int8
///   decoding weights, so decoding from the file and from a float32 model packed to int8 agree);
/// * only the transformer layers' four linear weights are quantised (`quantizedSuffixes`); the word
///   embedding (gathered per token and the tied output projection) and the position tables stay BF16,
///   LayerNorm weights and biases F32.
public enum Int8Weights {
    public static let metadataKey = "glm.weights"
    public static let formatName = "int8-per-row-v1"
    public static let scaleSuffix = ".scale"
    /// The layer weights that are quantised (2-D, [out, in]).
    public static let quantizedSuffixes = ["attention.query_key_value.weight", "attention.dense.weight",
                                           "mlp.dense_h_to_4h.weight", "mlp.dense_4h_to_h.weight"]

    public static func isQuantized(_ name: String, shape: [Int]) -> Bool {
        shape.count == 2 && name.hasPrefix("transformer.layers.") && quantizedSuffixes.contains(where: name.hasSuffix)
    }

    /// The stored dtype of a non-quantised floating tensor in an int8 file: 2-D tables BF16, 1-D F32.
    public static func storedDType(ofUnquantized shape: [Int]) -> StoredDType {
        shape.count >= 2 ? .bfloat16 : .float32
    }

    /// Whether a safetensors file holds this format (by its metadata).
    public static func isInt8File(_ f: SafetensorsFile) -> Bool { f.metadata[metadataKey] == formatName }

    /// The quantised weight `name` of `f` and its scales, checked: I8 [out, in] and F32 [out].
    public static func quantizedPair(_ f: SafetensorsFile, _ name: String) throws -> (q: TensorData, scale: TensorData) {
        let q = try f.tensor(name)
        guard q.dtype == .int8, q.shape.count == 2 else {
            throw CheckpointError(.shapeMismatch, file: f.path, "int8 weight '\(name)' is \(q), expected I8 [out, in]")
        }
        guard f.infos[name + scaleSuffix] != nil else {
            throw CheckpointError(.missingKey, file: f.path, "int8 weight '\(name)' has no scale tensor '\(name + scaleSuffix)' (F32 [\(q.shape[0])])")
        }
        let s = try f.tensor(name + scaleSuffix)
        guard s.dtype == .float32, s.shape == [q.shape[0]] else {
            throw CheckpointError(.shapeMismatch, file: f.path, "scale tensor '\(name + scaleSuffix)' is \(s), expected F32 [\(q.shape[0])] for '\(name)' \(q)")
        }
        return (q, s)
    }

    /// W = scale[n]·q[n, k] as float32 (what a float32 model loaded from the file holds).
    public static func dequantized(q: TensorData, scale: TensorData) -> TensorData {
        let rows = q.shape[0], cols = q.shape[1]
        let s = scale.floats()
        return q.withUnsafeBytes { src in
            TensorData.build(dtype: .float32, shape: q.shape) { dst in
                let out = dst.bindMemory(to: Float.self)
                for r in 0..<rows {
                    for c in 0..<cols { out[r * cols + c] = s[r] * Float(Int8(bitPattern: src[r * cols + c])) }
                }
            }
        }
    }
}
