import GLMSupport

/// A value `TorchWriter` can save: the plain containers of a GLM checkpoint
/// (`{'iteration': N, 'module': OrderedDict(name → tensor)}`) and of an HF `pytorch_model.bin`.
public indirect enum TorchSaveValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case dict([(String, TorchSaveValue)])
    case orderedDict([(String, TorchSaveValue)])
    case tensor(TensorData)
    /// A tensor whose bytes are produced while the file is written (never all in memory at once).
    case streamed(StreamedTensor)
}

/// A tensor written by `TorchWriter` from a producer: `produce(emit)` must emit exactly
/// `shape.product × dtype.byteSize` bytes, in any number of chunks.
public struct StreamedTensor {
    public let dtype: StoredDType
    public let shape: [Int]
    public let produce: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void
    public init(dtype: StoredDType, shape: [Int], produce: @escaping (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) {
        self.dtype = dtype; self.shape = shape; self.produce = produce
    }
    var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
}

/// A storage the pickle refers to, written after it.
enum PendingStorage {
    case data(TensorData)
    case streamed(StreamedTensor)
}

/// Writes files that `torch.load` reads: the zip layout of `torch.save` (`<name>/data.pkl` as a
/// protocol-2 pickle, `<name>/data/<key>` raw little-endian storages, `<name>/version` = "3"), atomic.
public enum TorchWriter {
    /// `archiveName` is the folder inside the zip; torch uses the file name without extension.
    public static func write(_ root: TorchSaveValue, to path: String, archiveName: String? = nil,
                             dtype: StoredDType? = nil, forceZip64: Bool = false) throws {
        let name = archiveName ?? defaultArchiveName(path)
        var tensors: [PendingStorage] = []
        var p = PickleWriter()
        p.proto()
        try p.value(root, tensors: &tensors, dtype: dtype)
        p.stop()
        let out = try AtomicFileWriter(checkpoint: path)
        let zip = ZipWriter(out, forceZip64: forceZip64)
        try zip.addEntry(name: "\(name)/data.pkl", bytes: p.bytes)
        for (i, pending) in tensors.enumerated() {
            switch pending {
            case .data(let t):
                let c = t.converted(to: Safetensors.target(t.dtype, dtype))
                try zip.addEntry(name: "\(name)/data/\(i)", size: c.byteCount) { emit in
                    try c.withUnsafeBytes { try emit($0) }
                }
                t.releaseMappedPages()
            case .streamed(let t):
                var emitted = 0
                try zip.addEntry(name: "\(name)/data/\(i)", size: t.byteCount) { emit in
                    try t.produce { bytes in
                        emitted += bytes.count
                        guard emitted <= t.byteCount else {
                            throw CheckpointError(.shapeMismatch, file: path, "a streamed tensor \(t.dtype.rawValue)\(t.shape) produced more than its \(t.byteCount) bytes")
                        }
                        try emit(bytes)
                    }
                }
                guard emitted == t.byteCount else {
                    throw CheckpointError(.truncated, file: path, "a streamed tensor \(t.dtype.rawValue)\(t.shape) produced \(emitted) of its \(t.byteCount) bytes")
                }
            }
        }
        try zip.addEntry(name: "\(name)/version", bytes: Array("3\n".utf8))
        try zip.finish()
        try out.commit()
    }

    static func defaultArchiveName(_ path: String) -> String {
        let base = path.split(separator: "/").last.map(String.init) ?? "archive"
        if let dot = base.lastIndex(of: "."), dot != base.startIndex { return String(base[..<dot]) }
        return base
    }
}

/// Emits the small subset of pickle protocol 2 that torch state dicts use.
struct PickleWriter {
    var bytes: [UInt8] = []

    mutating func proto() { bytes += [0x80, 0x02] }
    mutating func stop() { bytes.append(0x2E) }
    mutating func mark() { bytes.append(0x28) }

    mutating func int(_ v: Int) {
        if v >= 0 && v < 256 { bytes += [0x4B, UInt8(v)] }
        else if v >= 0 && v < 65536 { bytes += [0x4D, UInt8(v & 0xFF), UInt8(v >> 8)] }
        else if v >= Int(Int32.min) && v <= Int(Int32.max) {
            bytes.append(0x4A)
            for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
        } else {
            bytes += [0x8A, 8]
            for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * i))) }
        }
    }

    mutating func string(_ s: String) {
        let u = Array(s.utf8)
        bytes.append(0x58)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: u.count >> (8 * i))) }
        bytes += u
    }

    mutating func global(_ module: String, _ name: String) {
        bytes.append(0x63)
        bytes += Array(module.utf8) + [0x0A] + Array(name.utf8) + [0x0A]
    }

    mutating func intTuple(_ v: [Int]) {
        switch v.count {
        case 0: bytes.append(0x29)
        case 1: int(v[0]); bytes.append(0x85)
        case 2: int(v[0]); int(v[1]); bytes.append(0x86)
        case 3: int(v[0]); int(v[1]); int(v[2]); bytes.append(0x87)
        default: mark(); for x in v { int(x) }; bytes.append(0x74)
        }
    }

    mutating func value(_ v: TorchSaveValue, tensors: inout [PendingStorage], dtype: StoredDType?) throws {
        switch v {
        case .none: bytes.append(0x4E)
        case .bool(let b): bytes.append(b ? 0x88 : 0x89)
        case .int(let i): int(i)
        case .float(let d):
            bytes.append(0x47)
            let bits = d.bitPattern
            for i in stride(from: 7, through: 0, by: -1) { bytes.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i)))) }
        case .string(let s): string(s)
        case .dict(let items):
            bytes.append(0x7D)
            try dictItems(items, tensors: &tensors, dtype: dtype)
        case .orderedDict(let items):
            global("collections", "OrderedDict")
            bytes += [0x29, 0x52] // () REDUCE
            try dictItems(items, tensors: &tensors, dtype: dtype)
        case .tensor(let t):
            tensors.append(.data(t))
            tensorReference(dtype: Safetensors.target(t.dtype, dtype), shape: t.shape, key: tensors.count - 1)
        case .streamed(let t):
            tensors.append(.streamed(t))
            tensorReference(dtype: t.dtype, shape: t.shape, key: tensors.count - 1)
        }
    }

    /// `torch._utils._rebuild_tensor_v2(storage key, 0, shape, strides, False, OrderedDict())`.
    mutating func tensorReference(dtype dt: StoredDType, shape: [Int], key: Int) {
        do {
            let elementCount = shape.reduce(1, *)
            global("torch._utils", "_rebuild_tensor_v2")
            mark()
            mark()
            string("storage")
            global("torch", dt.torchStorageName)
            string(String(key))
            string("cpu")
            int(elementCount)
            bytes.append(0x74)   // TUPLE
            bytes.append(0x51)   // BINPERSID
            int(0)               // storage offset
            intTuple(shape)
            var strides = [Int](repeating: 1, count: shape.count)
            var s = 1
            for i in stride(from: shape.count - 1, through: 0, by: -1) { strides[i] = s; s *= shape[i] }
            intTuple(strides)
            bytes.append(0x89)   // requires_grad = False
            global("collections", "OrderedDict")
            bytes += [0x29, 0x52] // backward hooks: OrderedDict()
            bytes.append(0x74)   // TUPLE (args)
            bytes.append(0x52)   // REDUCE
        }
    }

    mutating func dictItems(_ items: [(String, TorchSaveValue)], tensors: inout [PendingStorage], dtype: StoredDType?) throws {
        guard !items.isEmpty else { return }
        // Python batches SETITEMS by 1000; any batch size loads the same.
        mark()
        for (k, v) in items {
            string(k)
            try value(v, tensors: &tensors, dtype: dtype)
        }
        bytes.append(0x75)
    }
}
