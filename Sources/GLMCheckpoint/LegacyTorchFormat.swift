import GLMSupport

/// The pre-1.6 `torch.save` format: concatenated pickles — magic number, protocol version (1001),
/// sys_info, the object (storages as persistent ids), the sorted list of storage keys — followed by each
/// storage as an int64 element count and its raw bytes, in that key order.
///
/// The published GLM checkpoints were saved with torch 1.7/1.8 (the repository's README and Dockerfiles),
/// whose default is the zip format, but old `.pt` files and re-saves with
/// `_use_new_zipfile_serialization=False` still meet users, and with the strict unpickler in place this
/// reader is small.
enum LegacyTorchFormat {
    /// `pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)`: the magic number is a 10-byte int that a
    /// 64-bit unpickler cannot hold, so it is matched literally (protocols 2–5 encode it the same way
    /// after the PROTO byte).
    static let magicBody: [UInt8] = [0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    static func parse(_ file: MappedFile) throws -> (root: PickleValue, storages: [String: (offset: Int, size: Int)]) {
        let path = file.path
        let b = file.bytes
        guard b.count >= 2 + magicBody.count, b[0] == 0x80,
              (0..<magicBody.count).allSatisfy({ b[2 + $0] == magicBody[$0] }) else {
            throw CheckpointError(.badMagic, file: path, "starts like a pickle but not with the torch legacy magic number: not a torch checkpoint")
        }
        var pos = 2 + magicBody.count
        func next(_ what: String) throws -> PickleValue {
            var used = 0
            let v = try Unpickler.load(UnsafeRawBufferPointer(rebasing: b[pos...]), file: "\(path): legacy \(what) (byte \(pos))", consumed: &used)
            pos += used
            return v
        }
        guard case .int(1001)? = try? next("protocol version") else {
            throw CheckpointError(.unsupported, file: path, "legacy torch file with an unknown protocol version (expected 1001)")
        }
        let sysInfo = try next("sys_info")
        if case .bool(false)? = sysInfo["little_endian"] {
            throw CheckpointError(.unsupported, file: path, "legacy torch file written on a big-endian machine")
        }
        let root = try next("object")
        guard case .list(let keyValues) = try next("storage key list") else {
            throw CheckpointError(.malformed, file: path, "legacy torch file: the storage key list is not a list")
        }
        // Collect each storage's element size from the persistent ids in the object tree.
        var itemSize: [String: Int] = [:]
        var budget = 10_000_000
        collectStorages(root, into: &itemSize, budget: &budget)
        var storages: [String: (offset: Int, size: Int)] = [:]
        for kv in keyValues {
            guard case .string(let key) = kv else {
                throw CheckpointError(.malformed, file: path, "legacy torch file: storage key is a \(kv.kindName)")
            }
            var r = ByteReader(UnsafeRawBufferPointer(rebasing: b[pos...]), file: path, baseOffset: pos)
            let numel = try r.u64("element count of legacy storage '\(key)'")
            let item = itemSize[key] ?? 1
            let (bytes, o) = numel.multipliedReportingOverflow(by: UInt64(item))
            guard !o, bytes <= UInt64(r.remaining) else {
                throw CheckpointError(.outOfBounds, file: path,
                                      "legacy storage '\(key)' claims \(numel) elements of \(item) bytes at byte \(pos + 8), past the end of the file (\(b.count) bytes; truncated?)")
            }
            storages[key] = (pos + 8, Int(bytes))
            pos += 8 + Int(bytes)
        }
        return (root, storages)
    }

    private static func collectStorages(_ v: PickleValue, into out: inout [String: Int], budget: inout Int) {
        budget -= 1
        if budget < 0 { return }
        switch v {
        case .tensor(let t): out[t.storage.key] = t.storage.dtype.byteSize
        case .storage(let s): out[s.key] = s.dtype.byteSize
        case .list(let a), .tuple(let a): for x in a { collectStorages(x, into: &out, budget: &budget) }
        case .dict(let items): for (k, x) in items { collectStorages(k, into: &out, budget: &budget); collectStorages(x, into: &out, budget: &budget) }
        case .object(_, let a, let s):
            for x in a { collectStorages(x, into: &out, budget: &budget) }
            if let s { collectStorages(s, into: &out, budget: &budget) }
        default: break
        }
    }
}
