import GLMSupport

/// A read-only view of a zip archive as torch writes it (`torch.save` since 1.6): every entry is STORED
/// (torch never compresses, so storages can be memory-mapped), ZIP64 for archives or entries over 4 GiB.
///
/// Only the central directory is trusted for names and sizes; each entry's local header is checked
/// against it, and every offset is bounds-checked against the file. Compressed or encrypted entries are
/// refused with a clear error rather than silently mis-read.
public struct ZipArchive: Sendable {
    public struct Entry: Sendable {
        public let name: String
        /// Offset of the entry's first data byte in the file.
        public let dataOffset: Int
        public let size: Int
        public let crc32: UInt32
    }

    public let file: MappedFile
    public let entries: [Entry]
    private let index: [String: Int]

    /// Upper bound on entries; a torch archive has one per storage plus a few, and a bound stops a forged
    /// count from making us allocate unboundedly.
    static let maxEntries = 10_000_000

    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        let all = file.bytes
        guard all.count >= 22 else {
            throw CheckpointError(.truncated, file: path, "file of \(all.count) bytes is too short to be a zip archive")
        }
        guard all[0] == 0x50, all[1] == 0x4B else {
            throw CheckpointError(.badMagic, file: path, "not a zip archive (first bytes are not 'PK')")
        }
        // End of central directory: last 22 bytes + up to 65535 bytes of comment.
        var eocd = -1
        let lowest = max(0, all.count - 22 - 65535)
        var p = all.count - 22
        while p >= lowest {
            if all[p] == 0x50, all[p + 1] == 0x4B, all[p + 2] == 0x05, all[p + 3] == 0x06 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else {
            throw CheckpointError(.truncated, file: path, "zip end-of-central-directory record not found (file truncated?)")
        }
        var r = ByteReader(try file.slice(offset: eocd, count: 22, what: "end of central directory"), file: path, baseOffset: eocd)
        _ = try r.u32("EOCD signature")
        _ = try r.u16("disk number"); _ = try r.u16("cd disk")
        _ = try r.u16("entries on disk")
        var entryCount = UInt64(try r.u16("entry count"))
        var cdSize = UInt64(try r.u32("central directory size"))
        var cdOffset = UInt64(try r.u32("central directory offset"))

        // ZIP64: a locator sits right before the EOCD and points at the ZIP64 EOCD record.
        if eocd >= 20 {
            var l = ByteReader(try file.slice(offset: eocd - 20, count: 20, what: "zip64 locator"), file: path, baseOffset: eocd - 20)
            if try l.u32("zip64 locator signature") == 0x0706_4B50 {
                _ = try l.u32("zip64 disk")
                let recOffset = try l.u64("zip64 EOCD offset")
                guard recOffset <= UInt64(all.count), let ro = Int(exactly: recOffset) else {
                    throw CheckpointError(.outOfBounds, file: path, "zip64 end-of-central-directory offset \(recOffset) past the end of the file")
                }
                var z = ByteReader(try file.slice(offset: ro, count: 56, what: "zip64 end of central directory"), file: path, baseOffset: ro)
                guard try z.u32("zip64 EOCD signature") == 0x0606_4B50 else {
                    throw CheckpointError(.malformed, file: path, "zip64 end-of-central-directory record has a bad signature")
                }
                _ = try z.u64("record size"); _ = try z.u16("version"); _ = try z.u16("version needed")
                _ = try z.u32("disk"); _ = try z.u32("cd disk"); _ = try z.u64("entries on disk")
                entryCount = try z.u64("entry count")
                cdSize = try z.u64("central directory size")
                cdOffset = try z.u64("central directory offset")
            }
        }
        guard entryCount <= UInt64(ZipArchive.maxEntries) else {
            throw CheckpointError(.malformed, file: path, "zip claims \(entryCount) entries")
        }
        guard cdOffset <= UInt64(all.count), cdSize <= UInt64(all.count) - cdOffset else {
            throw CheckpointError(.outOfBounds, file: path,
                                  "zip central directory (offset \(cdOffset), \(cdSize) bytes) lies outside the file (\(all.count) bytes; truncated?)")
        }
        var cd = ByteReader(try file.slice(offset: Int(cdOffset), count: Int(cdSize), what: "central directory"),
                            file: path, baseOffset: Int(cdOffset))
        var list: [Entry] = []
        list.reserveCapacity(Int(min(entryCount, 100_000)))
        var index: [String: Int] = [:]
        for i in 0..<Int(entryCount) {
            guard try cd.u32("central directory header \(i)") == 0x0201_4B50 else {
                throw CheckpointError(.malformed, file: path, "central directory entry \(i) has a bad signature")
            }
            _ = try cd.u16("version made by"); _ = try cd.u16("version needed")
            let flags = try cd.u16("flags")
            let method = try cd.u16("method")
            _ = try cd.u16("mtime"); _ = try cd.u16("mdate")
            let crc = try cd.u32("crc32")
            var csize = UInt64(try cd.u32("compressed size"))
            var usize = UInt64(try cd.u32("uncompressed size"))
            let nameLen = Int(try cd.u16("name length"))
            let extraLen = Int(try cd.u16("extra length"))
            let commentLen = Int(try cd.u16("comment length"))
            _ = try cd.u16("disk start"); _ = try cd.u16("internal attrs"); _ = try cd.u32("external attrs")
            var localOffset = UInt64(try cd.u32("local header offset"))
            let nameBytes = try cd.take(nameLen, "entry name")
            let name = String(decoding: nameBytes, as: UTF8.self)
            var extra = ByteReader(try cd.take(extraLen, "extra field"), file: path)
            _ = try cd.take(commentLen, "entry comment")
            // ZIP64 extended information: only the fields that are 0xFFFFFFFF above are present, in order.
            while extra.remaining >= 4 {
                let tag = try extra.u16("extra tag")
                let len = Int(try extra.u16("extra length"))
                var field = ByteReader(try extra.take(len, "extra field data"), file: path)
                if tag == 0x0001 {
                    if usize == 0xFFFF_FFFF { usize = try field.u64("zip64 uncompressed size") }
                    if csize == 0xFFFF_FFFF { csize = try field.u64("zip64 compressed size") }
                    if localOffset == 0xFFFF_FFFF { localOffset = try field.u64("zip64 local header offset") }
                }
            }
            if flags & 0x1 != 0 {
                throw CheckpointError(.unsupported, file: path, "zip entry '\(name)' is encrypted")
            }
            if method != 0 {
                throw CheckpointError(.unsupported, file: path,
                                      "zip entry '\(name)' is compressed (method \(method)); torch.save writes stored entries only — re-save the file with torch.save")
            }
            guard csize == usize else {
                throw CheckpointError(.malformed, file: path, "stored zip entry '\(name)' has compressed size \(csize) ≠ size \(usize)")
            }
            guard all.count >= 30, localOffset <= UInt64(all.count - 30) else {
                throw CheckpointError(.outOfBounds, file: path, "zip entry '\(name)': local header offset \(localOffset) past the end of the file")
            }
            var lh = ByteReader(try file.slice(offset: Int(localOffset), count: 30, what: "local header of '\(name)'"),
                                file: path, baseOffset: Int(localOffset))
            guard try lh.u32("local header signature") == 0x0403_4B50 else {
                throw CheckpointError(.malformed, file: path, "zip entry '\(name)': bad local header signature at byte \(localOffset)")
            }
            _ = try lh.take(22, "local header fields")
            let lNameLen = UInt64(try lh.u16("local name length"))
            let lExtraLen = UInt64(try lh.u16("local extra length"))
            let dataStart = localOffset + 30 + lNameLen + lExtraLen
            guard dataStart <= UInt64(all.count), usize <= UInt64(all.count) - dataStart else {
                throw CheckpointError(.outOfBounds, file: path,
                                      "zip entry '\(name)': \(usize) data bytes at offset \(dataStart) run past the end of the file (\(all.count) bytes; truncated?)")
            }
            if index[name] != nil {
                throw CheckpointError(.malformed, file: path, "zip entry '\(name)' appears twice")
            }
            index[name] = list.count
            list.append(Entry(name: name, dataOffset: Int(dataStart), size: Int(usize), crc32: crc))
        }
        self.entries = list
        self.index = index
    }

    public init(path: String) throws {
        try self.init(file: MappedFile(checkpoint: path))
    }

    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The entry's bytes (a window of the mapping). With `verify`, the CRC-32 is checked too.
    public func data(of entry: Entry, verify: Bool = false) throws -> UnsafeRawBufferPointer {
        let d = try file.slice(offset: entry.dataOffset, count: entry.size, what: "zip entry '\(entry.name)'")
        if verify {
            let c = CRC32.checksum(d)
            guard c == entry.crc32 else {
                throw CheckpointError(.malformed, file: file.path,
                                      "zip entry '\(entry.name)': CRC-32 \(String(c, radix: 16)) does not match the recorded \(String(entry.crc32, radix: 16)) (corrupt file)")
            }
        }
        return d
    }
}
