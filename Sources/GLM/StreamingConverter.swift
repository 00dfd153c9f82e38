import Foundation
import GLMCheckpoint
import GLMEngine
import GLMSupport

/// What `StreamingConverter` writes: a float dtype for every floating tensor, or the int8 format of
/// `Int8Weights` (quantised layer matrices with per-row scales, the rest BF16/F32).
public enum ConversionTarget: Sendable, Equatable {
    /// nil: keep each tensor's dtype.
    case float(StoredDType?)
    case int8

    public var name: String {
        switch self {
        case .float(let d): return d?.rawValue ?? "unchanged"
        case .int8: return "int8"
        }
    }
}

/// Converts a checkpoint in any layout `ModelFiles` reads into safetensors (+ config.json), ONE TENSOR AT
/// A TIME: each tensor is loaded (a view of its mapped file, or one merged copy of its model-parallel
/// ranks), converted in row blocks of about `blockElements` and appended to the output, and its source
/// pages are released before the next. So the working set is one source tensor plus one block, whatever
/// the model's size (GLM-10B in fp16 MP=4 → bf16 or int8 on a 24 GiB machine); the output goes through
/// the page cache, never the heap. Every file is written atomically.
///
/// The result is byte-identical to the in-memory path (`ModelWriter.saveSafetensors` /
/// `ModelWriter.saveInt8Safetensors` on a fully loaded model): same order, header, sharding and values.
public enum StreamingConverter {
    /// Elements per conversion block (4 MiB of float32).
    public static let blockElements = 1 << 20

    public struct Report: Sendable {
        public var config: GLMConfig
        public var layout: ModelLayout
        public var sourceFiles: Int
        public var modelParallelSize: Int
        public var files: [String]
        public var tensors: Int
        public var bytesWritten: Int
        /// The most heap bytes held at once for tensor data (a merged/dequantised source copy, the block
        /// buffers, int8 scales): the converter's working set beyond mapped pages.
        public var peakHeldBytes: Int
        /// The most source tensors loaded at once (always 1: the point of streaming).
        public var maxLiveTensors: Int
        public var seconds: Double
    }

    /// Progress after each tensor: bytes written so far, total bytes, tensors done, tensor count.
    public typealias Progress = (_ written: Int, _ total: Int, _ done: Int, _ count: Int) -> Void

    public static func convert(source: String, to folder: String, target: ConversionTarget,
                               maxShardBytes: Int? = nil, options: ModelLoadOptions = ModelLoadOptions(),
                               progress: Progress? = nil) throws -> Report {
        let start = Date()
        let located = try ModelFiles.locate(source)
        let (lazy, _, mp) = try ModelFiles.lazyTensors(located)
        let shapes = Dictionary(lazy.map { ($0.name, TensorShape(dtype: $0.dtype, shape: $0.shape)) }, uniquingKeysWith: { a, _ in a })
        let provenance = Dictionary(lazy.map { ($0.name, $0.provenance) }, uniquingKeysWith: { a, _ in a })
        var (config, _) = try ModelFiles.resolveConfig(located: located, shapes: shapes, options: options)
        try config.validate(shapes: shapes, provenance: provenance, source: located.path)
        let byName = Dictionary(lazy.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let ordered = config.parameterSpecs.map { byName[$0.name]! }

        let plan = outputPlan(ordered.map { ($0.name, $0.dtype, $0.shape) }, target: target)
        config.torchDtype = plan.torchDtype
        try AtomicFileWriter.makeDirectories(folder, errors: CheckpointError.fromFileSystem)
        let total = plan.entries.reduce(0) { $0 + $1.byteCount }
        let shards = shardFiles(plan, maxShardBytes: maxShardBytes)

        // Output bytes per source tensor (an int8 matrix: its q and its scales).
        var outputBytes: [String: Int] = [:]
        for e in plan.entries {
            let source = byName[e.name] != nil ? e.name : String(e.name.dropLast(Int8Weights.scaleSuffix.count))
            outputBytes[source, default: 0] += e.byteCount
        }
        var written = 0, done = 0, peak = 0, maxLive = 0
        for shard in shards {
            let w = try Safetensors.StreamWriter(path: folder + "/" + shard.file, entries: shard.entries, metadata: plan.metadata)
            for e in shard.entries where byName[e.name] != nil {
                let t = byName[e.name]!
                let data = try t.load()
                // A merged (or dequantised) copy no longer needs its mapped sources: drop their pages now,
                // so the working set is the copy alone, not the copy plus its parts.
                if !data.isMapped { t.releasePages() }
                maxLive = max(maxLive, 1)
                let held = try writeTensor(data, name: e.name, as: e.dtype, target: target, to: w)
                peak = max(peak, (data.isMapped ? 0 : data.byteCount) + held)
                t.releasePages()
                written += outputBytes[e.name] ?? 0
                done += 1
                progress?(written, total, done, ordered.count)
            }
            try w.commit()
        }
        if shards.count > 1 { try Safetensors.writeIndex(shards, folder: folder) }
        try config.save(path: folder + "/config.json")
        return Report(config: config, layout: located.layout, sourceFiles: located.files.count, modelParallelSize: mp,
                      files: shards.map { folder + "/" + $0.file }, tensors: ordered.count, bytesWritten: total,
                      peakHeldBytes: peak, maxLiveTensors: maxLive, seconds: Date().timeIntervalSince(start))
    }

    /// The output tensors for the source tensors (in model order), with the groups that must share a
    /// shard (a quantised weight and its scales), the file metadata and config.json's torch_dtype.
    /// The output tensors (in file order), the groups that must share a shard, the metadata, torch_dtype.
    typealias OutputPlan = (entries: [Safetensors.Entry], groups: [Int], metadata: [String: String], torchDtype: String)

    /// The output files of `plan`: one model.safetensors, or shards of at most `maxShardBytes` (an int8
    /// matrix and its scales stay in one shard) when the whole is larger.
    static func shardFiles(_ plan: OutputPlan, maxShardBytes: Int?) -> [(file: String, entries: [Safetensors.Entry])] {
        let total = plan.entries.reduce(0) { $0 + $1.byteCount }
        guard let maxShardBytes, total > maxShardBytes else { return [("model.safetensors", plan.entries)] }
        return Safetensors.planShards(plan.entries, maxShardBytes: maxShardBytes, groups: plan.groups)
    }

    static func outputPlan(_ tensors: [(name: String, dtype: StoredDType, shape: [Int])], target: ConversionTarget)
        -> OutputPlan {
        var entries: [Safetensors.Entry] = []
        var groups: [Int] = []
        for (i, t) in tensors.enumerated() {
            switch target {
            case .float(let d):
                entries.append(.init(name: t.name, dtype: Safetensors.target(t.dtype, d), shape: t.shape))
                groups.append(i)
            case .int8:
                if t.dtype.isFloatingPoint && Int8Weights.isQuantized(t.name, shape: t.shape) {
                    entries.append(.init(name: t.name, dtype: .int8, shape: t.shape))
                    entries.append(.init(name: t.name + Int8Weights.scaleSuffix, dtype: .float32, shape: [t.shape[0]]))
                    groups += [i, i]
                } else {
                    let dt = t.dtype.isFloatingPoint ? Int8Weights.storedDType(ofUnquantized: t.shape) : t.dtype
                    entries.append(.init(name: t.name, dtype: dt, shape: t.shape))
                    groups.append(i)
                }
            }
        }
        var metadata = ["format": "pt"]
        let torchDtype: String
        switch target {
        case .int8:
            metadata[Int8Weights.metadataKey] = Int8Weights.formatName
            torchDtype = "int8"
        case .float(let d):
            let counts = entries.reduce(into: [StoredDType: Int]()) { $0[$1.dtype, default: 0] += $1.shape.reduce(1, *) }
            torchDtype = ModelWriter.torchDtypeName(d ?? counts.max { $0.value < $1.value }?.key ?? .float32)
        }
        return (entries, groups, metadata, torchDtype)
    }

    /// Appends one tensor (and for int8 its scales) in row blocks; returns the heap bytes it held at once.
    static func writeTensor(_ data: TensorData, name: String, as dtype: StoredDType, target: ConversionTarget,
                            to w: Safetensors.StreamWriter) throws -> Int {
        if dtype == data.dtype {
            try data.withUnsafeBytes { try w.append(name, $0) }
            return 0
        }
        if data.shape.count < 2 {
            let c = data.converted(to: dtype)
            try c.withUnsafeBytes { try w.append(name, $0) }
            return c.byteCount
        }
        let rows = data.shape[0], cols = data.shape.dropFirst().reduce(1, *)
        let blockRows = max(1, blockElements / max(cols, 1))
        if dtype == .int8 {
            var floats = [Float](repeating: 0, count: min(blockRows, rows) * cols)
            var q = [Int8](repeating: 0, count: min(blockRows, rows) * cols)
            var scales = [Float](repeating: 0, count: rows)
            var r0 = 0
            while r0 < rows {
                let r1 = min(rows, r0 + blockRows)
                let n = (r1 - r0) * cols
                floats.withUnsafeMutableBufferPointer { f in
                    data.rows(r0..<r1).copyFloats(into: UnsafeMutableBufferPointer(rebasing: f[0..<n]))
                }
                floats.withUnsafeBufferPointer { f in
                    q.withUnsafeMutableBufferPointer { qb in
                        scales.withUnsafeMutableBufferPointer { s in
                            Int8PackedLinear.quantizeRows(f.baseAddress!, rows: r1 - r0, cols: cols,
                                                          into: qb.baseAddress!, scales: s.baseAddress! + r0)
                        }
                    }
                }
                try q.withUnsafeBytes { try w.append(name, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
                r0 = r1
            }
            try scales.withUnsafeBytes { try w.append(name + Int8Weights.scaleSuffix, $0) }
            return floats.count * 4 + q.count + scales.count * 4
        }
        var held = 0
        var r0 = 0
        while r0 < rows {
            let r1 = min(rows, r0 + blockRows)
            let c = data.rows(r0..<r1).converted(to: dtype)
            held = max(held, c.byteCount)
            try c.withUnsafeBytes { try w.append(name, $0) }
            r0 = r1
        }
        return held
    }
}

extension ModelWriter {
    /// The in-memory int8 conversion (every tensor of `weights` already loaded): the same file(s) as
    /// `StreamingConverter.convert(…, target: .int8)` writes, for tests and small models.
    public static func saveInt8Safetensors(config: GLMConfig, weights: StateDict, to folder: String,
                                           maxShardBytes: Int? = nil) throws {
        try AtomicFileWriter.makeDirectories(folder, errors: CheckpointError.fromFileSystem)
        let ordered = try orderedWeights(config: config, weights: weights, folder: folder)
        let plan = StreamingConverter.outputPlan(ordered.map { ($0.0, $0.1.dtype, $0.1.shape) }, target: .int8)
        var out: [String: TensorData] = [:]
        for (name, t) in ordered {
            if Int8Weights.isQuantized(name, shape: t.shape) && t.dtype.isFloatingPoint {
                let rows = t.shape[0], cols = t.shape[1]
                let w = t.floats()
                var scales = [Float](repeating: 0, count: rows)
                let q = TensorData.build(dtype: .int8, shape: t.shape) { dst in
                    w.withUnsafeBufferPointer { wb in
                        scales.withUnsafeMutableBufferPointer { s in
                            Int8PackedLinear.quantizeRows(wb.baseAddress!, rows: rows, cols: cols,
                                                          into: dst.bindMemory(to: Int8.self).baseAddress!, scales: s.baseAddress!)
                        }
                    }
                }
                out[name] = q
                out[name + Int8Weights.scaleSuffix] = TensorData(float32: scales, shape: [rows])
            } else {
                out[name] = t.dtype.isFloatingPoint ? t.converted(to: Int8Weights.storedDType(ofUnquantized: t.shape)) : t
            }
        }
        let shards = StreamingConverter.shardFiles(plan, maxShardBytes: maxShardBytes)
        for shard in shards {
            try Safetensors.write(shard.entries.map { ($0.name, out[$0.name]!) }, to: folder + "/" + shard.file, metadata: plan.metadata)
        }
        if shards.count > 1 { try Safetensors.writeIndex(shards, folder: folder) }
        var cfg = config
        cfg.torchDtype = plan.torchDtype
        try cfg.save(path: folder + "/config.json")
    }
}
