import Foundation
import GLMSupport

/// A `.safetensors` file, memory-mapped: 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw data.
/// Offsets are relative to the first data byte.
///
/// The header is untrusted: its size is capped, every entry is validated (known dtype, non-negative
/// shape, offsets inside the data, byte length exactly shape×dtype, no two tensors overlapping) before
/// any tensor is handed out. Tensors are views of the mapping; nothing is copied.
public struct SafetensorsFile: @unchecked Sendable {
    /// The safetensors reference implementation caps the header at 100 MB; a larger claim is a forgery.
    public static let maxHeaderBytes = 100_000_000

    public struct Info: Sendable {
        public let dtype: StoredDType
        public let shape: [Int]
        public let begin: Int
        public let end: Int
    }

    public let path: String
    public let metadata: [String: String]
    /// Tensor names in data order.
    public let names: [String]
    public let infos: [String: Info]
    let file: MappedFile
    let dataStart: Int

    public init(path: String) throws {
        try self.init(file: MappedFile(checkpoint: path))
    }

    public init(file: MappedFile) throws {
        let path = file.path
        self.file = file
        self.path = path
        var r = ByteReader(file.bytes, file: path)
        guard file.count >= 8 else {
            throw CheckpointError(.truncated, file: path, "file of \(file.count) bytes is too short for a safetensors header length")
        }
        let headerLength = try r.u64("header length")
        guard headerLength <= UInt64(SafetensorsFile.maxHeaderBytes) else {
            throw CheckpointError(.malformed, file: path, "header length \(headerLength) is absurd (limit \(SafetensorsFile.maxHeaderBytes) bytes): not a safetensors file")
        }
        guard headerLength <= UInt64(file.count - 8) else {
            throw CheckpointError(.truncated, file: path, "header length \(headerLength) exceeds the file (\(file.count) bytes; truncated?)")
        }
        let h = Int(headerLength)
        let headerBytes = try file.slice(offset: 8, count: h, what: "header")
        guard h > 0, headerBytes[0] == 0x7B else {
            throw CheckpointError(.badMagic, file: path, "header does not start with '{': not a safetensors file")
        }
        dataStart = 8 + h
        let dataSize = file.count - dataStart
        guard let json = try JSONText.parse(headerBytes, file: path, what: "safetensors header") as? [String: Any] else {
            throw CheckpointError(.malformed, file: path, "safetensors header is not a JSON object")
        }
        var meta: [String: String] = [:]
        var infos: [String: Info] = [:]
        for (name, value) in json {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else {
                    throw CheckpointError(.malformed, file: path, "__metadata__ is not an object")
                }
                for (k, v) in m { meta[k] = (v as? String) ?? "\(v)" }
                continue
            }
            guard let entry = value as? [String: Any] else {
                throw CheckpointError(.malformed, file: path, "tensor '\(name)': header entry is not an object")
            }
            guard let ds = entry["dtype"] as? String, let dtype = StoredDType(rawValue: ds) else {
                throw CheckpointError(.unsupported, file: path, "tensor '\(name)': unknown dtype \(entry["dtype"].map { "\($0)" } ?? "(missing)")")
            }
            guard let shapeAny = entry["shape"] as? [Any], shapeAny.count <= 16 else {
                throw CheckpointError(.malformed, file: path, "tensor '\(name)': shape is missing or not a short list")
            }
            var shape: [Int] = []
            for d in shapeAny {
                guard let v = JSONText.nonNegativeInt(d) else {
                    throw CheckpointError(.malformed, file: path, "tensor '\(name)': shape \(shapeAny) has a non-integer or negative dimension")
                }
                shape.append(v)
            }
            guard let offs = entry["data_offsets"] as? [Any], offs.count == 2,
                  let b = JSONText.nonNegativeInt(offs[0]), let e = JSONText.nonNegativeInt(offs[1]) else {
                throw CheckpointError(.malformed, file: path, "tensor '\(name)': data_offsets is not [begin, end] of non-negative integers")
            }
            guard b <= e, e <= dataSize else {
                throw CheckpointError(.outOfBounds, file: path,
                                      "tensor '\(name)': data_offsets [\(b), \(e)] lie outside the data section (\(dataSize) bytes)")
            }
            guard let n = TensorData.checkedCount(shape), !n.multipliedReportingOverflow(by: dtype.byteSize).overflow,
                  n * dtype.byteSize == e - b else {
                throw CheckpointError(.shapeMismatch, file: path,
                                      "tensor '\(name)': \(e - b) bytes at [\(b), \(e)] do not hold \(dtype.rawValue) shape \(shape)")
            }
            infos[name] = Info(dtype: dtype, shape: shape, begin: b, end: e)
        }
        let ordered = infos.sorted { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }
        var lastEnd = 0
        var lastName = ""
        for (name, info) in ordered where info.end > info.begin {
            guard info.begin >= lastEnd else {
                throw CheckpointError(.malformed, file: path,
                                      "tensors '\(lastName)' and '\(name)' overlap (bytes \(info.begin)..<\(lastEnd))")
            }
            lastEnd = info.end
            lastName = name
        }
        self.names = ordered.map(\.key)
        self.infos = infos
        self.metadata = meta
    }

    public func tensor(_ name: String) throws -> TensorData {
        guard let i = infos[name] else {
            throw CheckpointError(.missingKey, file: path, "no tensor named '\(name)'")
        }
        return try TensorData(mapped: file, offset: dataStart + i.begin, dtype: i.dtype, shape: i.shape, what: "tensor '\(name)'")
    }

    public func tensors() throws -> [(String, TensorData)] {
        try names.map { ($0, try tensor($0)) }
    }
}

/// Writing safetensors files (single and sharded with `model.safetensors.index.json`).
public enum Safetensors {
    /// What a writer needs to know of a tensor before its bytes exist: name, stored dtype, shape.
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var dtype: StoredDType
        public var shape: [Int]
        public init(name: String, dtype: StoredDType, shape: [Int]) {
            self.name = name; self.dtype = dtype; self.shape = shape
        }
        public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// Writes `tensors` in the given order, atomically. Tensor bytes are streamed from their sources
    /// (usually mappings), so memory stays at one tensor even for huge models. With `dtype`, floating
    /// tensors are converted on the fly.
    public static func write(_ tensors: [(String, TensorData)], to path: String,
                             metadata: [String: String] = ["format": "pt"], dtype: StoredDType? = nil) throws {
        let entries = tensors.map { Entry(name: $0.0, dtype: target($0.1.dtype, dtype), shape: $0.1.shape) }
        let w = try StreamWriter(path: path, entries: entries, metadata: metadata)
        for (name, t) in tensors {
            let c = t.converted(to: target(t.dtype, dtype))
            try c.withUnsafeBytes { try w.append(name, $0) }
            t.releaseMappedPages()
        }
        try w.commit()
    }

    /// A safetensors file written tensor by tensor: the header (from `entries`, all known up front) is
    /// written at once, then each tensor's bytes, in `entries` order, in as many `append` calls as the
    /// producer likes (so a converter holds one block of one tensor, not the model). `commit()` checks
    /// that every byte arrived and renames the file into place (atomic: readers see the old file or the
    /// complete new one).
    public final class StreamWriter {
        public let path: String
        let entries: [Entry]
        let out: AtomicFileWriter
        private var index = 0
        private var written = 0

        public init(path: String, entries: [Entry], metadata: [String: String] = ["format": "pt"]) throws {
            self.path = path
            self.entries = entries
            let header = try Safetensors.header(entries, metadata: metadata, file: path)
            out = try AtomicFileWriter(checkpoint: path)
            var len = ByteWriter()
            len.u64(UInt64(header.count))
            try out.write(len.bytes)
            try out.write(header)
        }

        /// Appends bytes of tensor `name`, which must be the current tensor (or the next one once the
        /// current is complete).
        public func append(_ name: String, _ bytes: UnsafeRawBufferPointer) throws {
            while index < entries.count && written == entries[index].byteCount && entries[index].name != name {
                index += 1
                written = 0
            }
            guard index < entries.count, entries[index].name == name else {
                throw CheckpointError(.malformed, file: path, "bytes for tensor '\(name)' arrive out of order (expected '\(index < entries.count ? entries[index].name : "(none)")')")
            }
            guard written + bytes.count <= entries[index].byteCount else {
                throw CheckpointError(.shapeMismatch, file: path, "tensor '\(name)': more than its \(entries[index].byteCount) bytes were given")
            }
            try out.write(bytes)
            written += bytes.count
        }

        public func commit() throws {
            while index < entries.count && written == entries[index].byteCount { index += 1; written = 0 }
            guard index == entries.count else {
                throw CheckpointError(.truncated, file: path, "tensor '\(entries[index].name)' got \(written) of its \(entries[index].byteCount) bytes")
            }
            try out.commit()
        }
    }

    /// The JSON header, padded with spaces to a multiple of 8 bytes (data aligned as the reference does).
    static func header(_ entries: [Entry], metadata: [String: String], file: String) throws -> [UInt8] {
        var header = "{"
        if !metadata.isEmpty {
            header += "\"__metadata__\":{"
            header += metadata.keys.sorted().map { "\(JSONText.quote($0)):\(JSONText.quote(metadata[$0]!))" }.joined(separator: ",")
            header += "}"
        }
        var offset = 0
        var seen = Set<String>()
        for e in entries {
            guard seen.insert(e.name).inserted else {
                throw CheckpointError(.malformed, file: file, "tensor '\(e.name)' given twice")
            }
            let size = e.byteCount
            if header.count > 1 { header += "," }
            header += "\(JSONText.quote(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + size)]}"
            offset += size
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        return headerBytes
    }

    /// The dtype a tensor is written in when `requested` is asked for: only floating tensors convert.
    public static func target(_ source: StoredDType, _ requested: StoredDType?) -> StoredDType {
        guard let requested, source.isFloatingPoint else { return source }
        return requested
    }

    /// Groups entries into shards of at most `maxShardBytes` (a tensor larger than that gets its own
    /// shard), each named `model-0000i-of-0000n.safetensors`. `groups` (optional, parallel to `entries`)
    /// keeps entries with the same group number in one shard (an int8 weight and its scales).
    public static func planShards(_ entries: [Entry], maxShardBytes: Int, groups: [Int]? = nil) -> [(file: String, entries: [Entry])] {
        var shards: [[Entry]] = [[]]
        var current = 0
        var i = 0
        while i < entries.count {
            var j = i + 1
            if let groups { while j < entries.count && groups[j] == groups[i] { j += 1 } }
            let unit = Array(entries[i..<j])
            let size = unit.reduce(0) { $0 + $1.byteCount }
            if current > 0 && current + size > maxShardBytes {
                shards.append([])
                current = 0
            }
            shards[shards.count - 1] += unit
            current += size
            i = j
        }
        let n = shards.count
        func pad(_ i: Int) -> String { let s = String(i); return String(repeating: "0", count: max(0, 5 - s.count)) + s }
        return shards.enumerated().map { ("model-\(pad($0.offset + 1))-of-\(pad(n)).safetensors", $0.element) }
    }

    /// Writes `model.safetensors.index.json` for shards planned by `planShards`.
    public static func writeIndex(_ shards: [(file: String, entries: [Entry])], folder: String) throws {
        let total = shards.reduce(0) { $0 + $1.entries.reduce(0) { $0 + $1.byteCount } }
        var json = "{\n  \"metadata\": {\n    \"total_size\": \(total)\n  },\n  \"weight_map\": {\n"
        json += shards.flatMap { s in s.entries.map { "    \(JSONText.quote($0.name)): \(JSONText.quote(s.file))" } }.joined(separator: ",\n")
        json += "\n  }\n}\n"
        try AtomicFileWriter.write(Array(json.utf8), to: folder + "/model.safetensors.index.json", errors: CheckpointError.fromFileSystem)
    }

    /// Splits the tensors into files of at most `maxShardBytes` (a tensor larger than that gets its own
    /// file), named `model-0000i-of-0000n.safetensors`, and writes `model.safetensors.index.json`.
    /// Returns the shard file names.
    @discardableResult
    public static func writeSharded(_ tensors: [(String, TensorData)], folder: String, maxShardBytes: Int,
                                    metadata: [String: String] = ["format": "pt"], dtype: StoredDType? = nil) throws -> [String] {
        let entries = tensors.map { Entry(name: $0.0, dtype: target($0.1.dtype, dtype), shape: $0.1.shape) }
        let byName = Dictionary(tensors, uniquingKeysWith: { a, _ in a })
        let shards = planShards(entries, maxShardBytes: maxShardBytes)
        for shard in shards {
            try write(shard.entries.map { ($0.name, byName[$0.name]!) }, to: folder + "/" + shard.file, metadata: metadata, dtype: dtype)
        }
        try writeIndex(shards, folder: folder)
        return shards.map(\.file)
    }
}

/// A sharded-weights index (`model.safetensors.index.json` or `pytorch_model.bin.index.json`):
/// `{"metadata": {...}, "weight_map": {tensor name: file name}}`.
public struct WeightIndex: Sendable {
    public let path: String
    /// tensor name → shard file name (relative to the index's folder), in a stable order.
    public let weightMap: [(String, String)]

    public init(path: String) throws {
        let f = try MappedFile(checkpoint: path)
        guard let json = try JSONText.parse(f.bytes, file: path, what: "weight index") as? [String: Any],
              let map = json["weight_map"] as? [String: Any] else {
            throw CheckpointError(.malformed, file: path, "weight index has no \"weight_map\" object")
        }
        var out: [(String, String)] = []
        for (k, v) in map {
            guard let s = v as? String, !s.contains("/"), !s.isEmpty, s != "..", s != "." else {
                throw CheckpointError(.malformed, file: path, "weight_map['\(k)'] is not a plain file name in the same folder")
            }
            out.append((k, s))
        }
        self.path = path
        weightMap = out.sorted { ($0.1, $0.0) < ($1.1, $1.0) }
    }

    /// The distinct shard files, in name order.
    public var files: [String] { Array(Set(weightMap.map(\.1))).sorted() }
}
