/// The model-parallel (MP) layout of GLM checkpoints, as `change_mp.py` splits a state dict into N ranks
/// (`mp_rank_XX_model_states.pt`), and its exact inverse for loading shards of any count.
///
/// The rule is by parameter name (as in the original script):
/// * 2-D, name without "position":
///   - "query" (fused QKV weight [3h, h]): each rank holds [Q part r; K part r; V part r];
///   - "word", "h_to_4h", "relative", "r_w_bias", "r_r_bias": split along dim 0;
///   - otherwise (attention.dense, dense_4h_to_h weights): split along dim 1;
/// * 1-D "query_key_value" bias: per Q/K/V block like the weight;
/// * 1-D "dense_h_to_4h" or "attention.relative": split along dim 0;
/// * everything else (position tables, LayerNorms, the other biases) is copied to every rank.
public enum ModelParallel {
    public enum Partition: Equatable, Sendable {
        case replicated
        case rows          // dim 0
        case columns       // dim 1
        case qkvRows       // dim 0, per third
    }

    public static func partition(name: String, rank: Int) -> Partition {
        if rank == 2 && !name.contains("position") {
            if name.contains("query") { return .qkvRows }
            if ["word", "h_to_4h", "relative", "r_w_bias", "r_r_bias"].contains(where: name.contains) { return .rows }
            return .columns
        }
        if rank == 1 && name.contains("query_key_value") { return .qkvRows }
        if rank == 1 && (name.contains("dense_h_to_4h") || name.contains("attention.relative")) { return .rows }
        return .replicated
    }

    /// Rank `r`'s part of `tensor` when split `n` ways. Errors when a dimension does not divide.
    public static func split(_ tensor: TensorData, name: String, rank r: Int, of n: Int, file: String) throws -> TensorData {
        guard tensor.shape.count < 3 else {
            throw CheckpointError(.shapeMismatch, file: file, "tensor '\(name)' has \(tensor.shape.count) dimensions; model-parallel splitting handles at most 2")
        }
        let p = partition(name: name, rank: tensor.shape.count)
        if n == 1 || p == .replicated { return tensor }
        let rows = tensor.shape[0]
        let cols = tensor.shape.count == 2 ? tensor.shape[1] : 1
        let item = tensor.dtype.byteSize
        switch p {
        case .replicated:
            return tensor
        case .rows, .qkvRows:
            let blocks = p == .qkvRows ? 3 : 1
            guard rows % (blocks * n) == 0 else {
                throw CheckpointError(.shapeMismatch, file: file, "tensor '\(name)' with \(rows) rows cannot be split into \(n) model-parallel parts\(blocks == 3 ? " per Q/K/V block" : "")")
            }
            let blockRows = rows / blocks
            let part = blockRows / n
            var shape = tensor.shape
            shape[0] = part * blocks
            return tensor.withUnsafeBytes { src in
                TensorData.build(dtype: tensor.dtype, shape: shape) { dst in
                    for b in 0..<blocks {
                        let from = (b * blockRows + r * part) * cols * item
                        let to = b * part * cols * item
                        (dst.baseAddress! + to).copyMemory(from: src.baseAddress! + from, byteCount: part * cols * item)
                    }
                }
            }
        case .columns:
            guard cols % n == 0 else {
                throw CheckpointError(.shapeMismatch, file: file, "tensor '\(name)' with \(cols) columns cannot be split into \(n) model-parallel parts")
            }
            let part = cols / n
            return tensor.withUnsafeBytes { src in
                TensorData.build(dtype: tensor.dtype, shape: [rows, part]) { dst in
                    for i in 0..<rows {
                        (dst.baseAddress! + i * part * item).copyMemory(from: src.baseAddress! + (i * cols + r * part) * item, byteCount: part * item)
                    }
                }
            }
        }
    }

    /// The shape `merge(parts, …)` returns, computed from the parts' shapes alone (no bytes copied), with
    /// the same checks, so a streaming reader knows every merged shape before merging anything.
    public static func mergedShape(_ parts: [TensorData], name: String, files: [String]) throws -> [Int] {
        let first = parts[0]
        guard first.shape.count < 3 else {
            throw CheckpointError(.shapeMismatch, file: files[0], "tensor '\(name)' has \(first.shape.count) dimensions; model-parallel merging handles at most 2")
        }
        for (i, t) in parts.enumerated() where t.dtype != first.dtype || t.shape.count != first.shape.count {
            throw CheckpointError(.shapeMismatch, file: files[i], "tensor '\(name)' is \(t) here but \(first) in \(files[0])")
        }
        let p = partition(name: name, rank: first.shape.count)
        if parts.count == 1 || p == .replicated {
            for (i, t) in parts.enumerated() where t.shape != first.shape {
                throw CheckpointError(.shapeMismatch, file: files[i], "replicated tensor '\(name)' has shape \(t.shape) here but \(first.shape) in \(files[0])")
            }
            return first.shape
        }
        let cols = first.shape.count == 2 ? first.shape[1] : 1
        switch p {
        case .replicated:
            return first.shape
        case .rows, .qkvRows:
            let blocks = p == .qkvRows ? 3 : 1
            for (i, t) in parts.enumerated() {
                guard (t.shape.count == 1 || t.shape[1] == cols), t.shape[0] % blocks == 0 else {
                    throw CheckpointError(.shapeMismatch, file: files[i], "tensor '\(name)' has shape \(t.shape), which does not join with \(first.shape) of \(files[0]) along dim 0")
                }
            }
            var shape = first.shape
            shape[0] = parts.reduce(0) { $0 + $1.shape[0] }
            return shape
        case .columns:
            for (i, t) in parts.enumerated() where t.shape[0] != first.shape[0] {
                throw CheckpointError(.shapeMismatch, file: files[i], "tensor '\(name)' has \(t.shape[0]) rows here but \(first.shape[0]) in \(files[0]) (\(files.joined(separator: ", ")))")
            }
            return [first.shape[0], parts.reduce(0) { $0 + $1.shape[1] }]
        }
    }

    /// Joins the ranks' parts of one tensor (`parts[r]` from rank r). Replicated tensors are taken from
    /// rank 0, as `change_mp.py` does; all ranks must agree on dtype and on the non-split dimensions.
    public static func merge(_ parts: [TensorData], name: String, files: [String]) throws -> TensorData {
        let first = parts[0]
        // Every check (dtypes, ranks, the non-split dimensions) and the merged shape, without copying.
        let shape = try mergedShape(parts, name: name, files: files)
        let p = partition(name: name, rank: first.shape.count)
        if parts.count == 1 || p == .replicated { return first }
        let item = first.dtype.byteSize
        let cols = first.shape.count == 2 ? first.shape[1] : 1
        switch p {
        case .replicated:
            return first
        case .rows, .qkvRows:
            let blocks = p == .qkvRows ? 3 : 1
            return TensorData.build(dtype: first.dtype, shape: shape) { dst in
                var to = 0
                for b in 0..<blocks {
                    for t in parts {
                        let part = t.shape[0] / blocks
                        let n = part * cols * item
                        t.withUnsafeBytes { src in
                            (dst.baseAddress! + to).copyMemory(from: src.baseAddress! + b * n, byteCount: n)
                        }
                        // Copied: a mapped part's pages can go (the merged copy plus one part at a time).
                        t.rows((b * part)..<((b + 1) * part)).releaseMappedPages()
                        to += n
                    }
                }
            }
        case .columns:
            let rows = shape[0], total = shape[1]
            return TensorData.build(dtype: first.dtype, shape: shape) { dst in
                let releaseEvery = 256
                for i in 0..<rows {
                    var col = 0
                    for t in parts {
                        let c = t.shape[1]
                        t.withUnsafeBytes { src in
                            (dst.baseAddress! + (i * total + col) * item).copyMemory(from: src.baseAddress! + i * c * item, byteCount: c * item)
                        }
                        col += c
                    }
                    // Every few hundred rows, the parts' copied rows can leave memory (mapped parts only).
                    if (i + 1) % releaseEvery == 0 || i == rows - 1 {
                        let from = (i / releaseEvery) * releaseEvery
                        for t in parts { t.rows(from..<(i + 1)).releaseMappedPages() }
                    }
                }
            }
        }
    }
}
