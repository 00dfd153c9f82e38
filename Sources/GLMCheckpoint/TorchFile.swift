import GLMSupport

/// A `torch.save` file opened for reading: the unpickled object tree (inert) plus access to the raw
/// storages, from which tensors are materialised with every offset, size and stride bounds-checked.
///
/// Two container formats exist: the zip archive written since torch 1.6 (`<name>/data.pkl`,
/// `<name>/data/<key>`, `<name>/version`), and the legacy pre-1.6 stream of concatenated pickles followed
/// by raw storages. Both are read; see `LegacyTorchFormat.swift` for the latter.
public struct TorchFile: @unchecked Sendable {
    public let path: String
    /// The unpickled top-level object, e.g. `{'iteration': 1000, 'module': OrderedDict(...)}`.
    public let root: PickleValue
    let file: MappedFile
    /// storage key → (offset of its first byte in the file, size in bytes).
    let storages: [String: (offset: Int, size: Int)]

    /// Opens and parses a torch checkpoint; tensors are not read yet.
    public init(path: String) throws {
        try self.init(file: MappedFile(checkpoint: path))
    }

    public init(file: MappedFile) throws {
        let path = file.path
        let b = file.bytes
        if b.count >= 2, b[0] == 0x50, b[1] == 0x4B {
            try self.init(zip: try ZipArchive(file: file))
        } else if b.count >= 2, b[0] == 0x80 {
            let legacy = try LegacyTorchFormat.parse(file)
            self.init(path: path, root: legacy.root, file: file, storages: legacy.storages)
        } else {
            throw CheckpointError(.badMagic, file: path,
                                  "not a torch checkpoint: neither a zip archive ('PK') nor a legacy torch pickle (0x80)")
        }
    }

    init(path: String, root: PickleValue, file: MappedFile, storages: [String: (offset: Int, size: Int)]) {
        self.path = path
        self.root = root
        self.file = file
        self.storages = storages
    }

    init(zip: ZipArchive) throws {
        let path = zip.file.path
        guard let pkl = zip.entries.first(where: { $0.name == "data.pkl" || $0.name.hasSuffix("/data.pkl") }) else {
            throw CheckpointError(.missingKey, file: path, "zip archive has no data.pkl entry: not a torch.save file")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        // The pickle is small and decides everything: verify its checksum.
        let pickleBytes = try zip.data(of: pkl, verify: true)
        let root = try Unpickler.load(pickleBytes, file: "\(path): \(pkl.name)")
        var storages: [String: (offset: Int, size: Int)] = [:]
        let dataPrefix = prefix + "data/"
        for e in zip.entries where e.name.hasPrefix(dataPrefix) {
            storages[String(e.name.dropFirst(dataPrefix.count))] = (e.dataOffset, e.size)
        }
        self.init(path: path, root: root, file: zip.file, storages: storages)
    }

    /// The bytes of a tensor as a contiguous `TensorData` (a view of the mapping when the tensor is
    /// contiguous in its storage, otherwise a gathered copy).
    public func tensor(_ ref: TensorRef, name: String) throws -> TensorData {
        let what = "tensor '\(name)'"
        let st = ref.storage
        let item = st.dtype.byteSize
        guard let (sOffset, sSize) = storages[st.key] else {
            throw CheckpointError(.missingKey, file: path, "\(what): storage '\(st.key)' is not in the file")
        }
        let (needed, o1) = st.elementCount.multipliedReportingOverflow(by: item)
        guard !o1, needed <= sSize else {
            throw CheckpointError(.outOfBounds, file: path,
                                  "\(what): storage '\(st.key)' claims \(st.elementCount) elements of \(item) bytes but holds \(sSize) bytes")
        }
        guard ref.offset >= 0, ref.shape.allSatisfy({ $0 >= 0 }), ref.stride.allSatisfy({ $0 >= 0 }),
              let count = TensorData.checkedCount(ref.shape) else {
            throw CheckpointError(.outOfBounds, file: path, "\(what): negative or overflowing offset/size/stride (offset \(ref.offset), size \(ref.shape), stride \(ref.stride))")
        }
        if count > 0 {
            // Highest element index touched: offset + Σ (size_i - 1) * stride_i, overflow-checked.
            var last = ref.offset
            for (d, s) in zip(ref.shape, ref.stride) {
                let (p, o) = (d - 1).multipliedReportingOverflow(by: s)
                let (q, o2) = last.addingReportingOverflow(p)
                guard !o, !o2 else {
                    throw CheckpointError(.outOfBounds, file: path, "\(what): strides \(ref.stride) overflow")
                }
                last = q
            }
            guard last < st.elementCount else {
                throw CheckpointError(.outOfBounds, file: path,
                                      "\(what): storage offset \(ref.offset) with size \(ref.shape) and stride \(ref.stride) reaches element \(last), past the end of storage '\(st.key)' (\(st.elementCount) elements)")
            }
        }
        if isContiguous(shape: ref.shape, stride: ref.stride) || count == 0 {
            return try TensorData(mapped: file, offset: sOffset + (count == 0 ? 0 : ref.offset * item),
                                  dtype: st.dtype, shape: ref.shape, what: what)
        }
        let storageBytes = try file.slice(offset: sOffset, count: needed, what: what)
        return TensorData.build(dtype: st.dtype, shape: ref.shape) { dst in
            gather(from: storageBytes, item: item, offset: ref.offset, shape: ref.shape, stride: ref.stride, into: dst)
        }
    }

    /// The `name → tensor` map of a dict of tensors (a `state_dict`), in file order. Non-tensor values
    /// are reported as errors naming the key, since a state dict holds tensors only.
    public func stateDict(_ value: PickleValue, context: String) throws -> [(String, TensorData)] {
        guard case .dict(let items) = value else {
            throw CheckpointError(.malformed, file: path, "\(context) is a \(value.kindName), not a dict of tensors")
        }
        var out: [(String, TensorData)] = []
        out.reserveCapacity(items.count)
        for (k, v) in items {
            guard case .string(let name) = k else {
                throw CheckpointError(.malformed, file: path, "\(context) has a non-string key (\(k.kindName))")
            }
            guard case .tensor(let ref) = v else {
                throw CheckpointError(.malformed, file: path, "\(context)['\(name)'] is a \(v.kindName), not a tensor")
            }
            out.append((name, try tensor(ref, name: name)))
        }
        return out
    }
}

func isContiguous(shape: [Int], stride strides: [Int]) -> Bool {
    var expected = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        if shape[i] != 1 && strides[i] != expected { return false }
        expected *= shape[i]
    }
    return true
}

/// Copies a strided view into row-major order (element by element; non-contiguous tensors are rare in
/// checkpoints, so simplicity wins over speed here).
func gather(from src: UnsafeRawBufferPointer, item: Int, offset: Int, shape: [Int], stride: [Int],
            into dst: UnsafeMutableRawBufferPointer) {
    let n = shape.reduce(1, *)
    if n == 0 { return }
    var index = [Int](repeating: 0, count: shape.count)
    var srcElement = offset
    for out in 0..<n {
        (dst.baseAddress! + out * item).copyMemory(from: src.baseAddress! + srcElement * item, byteCount: item)
        // Odometer increment.
        var d = shape.count - 1
        while d >= 0 {
            index[d] += 1
            srcElement += stride[d]
            if index[d] < shape[d] { break }
            srcElement -= stride[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
}
