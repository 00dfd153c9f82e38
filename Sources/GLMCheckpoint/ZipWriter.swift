import GLMSupport

/// Streams a zip archive of STORED entries the way torch's `PyTorchStreamWriter` lays it out: every
/// entry's data aligned to 64 bytes (padding in an "FB" extra field) so readers can map storages in place,
/// and ZIP64 records when sizes, offsets or counts pass the classic 32-bit/16-bit limits.
final class ZipWriter {
    private let out: AtomicFileWriter
    private struct Central { let name: [UInt8]; let offset: Int; let size: Int; let crc: UInt32 }
    private var central: [Central] = []
    /// Tests set this to exercise the ZIP64 code paths without writing 4 GiB.
    let forceZip64: Bool

    init(_ out: AtomicFileWriter, forceZip64: Bool = false) {
        self.out = out
        self.forceZip64 = forceZip64
    }

    private func needs64(_ v: Int) -> Bool { forceZip64 || v >= 0xFFFF_FFFF }

    /// Writes one entry whose data is produced by `body` in chunks; `size` must be exact.
    func addEntry(name: String, size: Int, _ body: (_ emit: (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let nameBytes = Array(name.utf8)
        let headerOffset = out.offset
        let zip64 = needs64(size)
        var h = ByteWriter()
        h.u32(0x0403_4B50)
        h.u16(zip64 ? 45 : 20)
        h.u16(0)            // flags
        h.u16(0)            // stored
        h.u16(0); h.u16(0)  // time, date (torch writes zeros too)
        h.u32(0)            // crc, patched below
        h.u32(zip64 ? 0xFFFF_FFFF : UInt32(size))
        h.u32(zip64 ? 0xFFFF_FFFF : UInt32(size))
        h.u16(UInt16(nameBytes.count))
        let zip64Extra = zip64 ? 20 : 0
        let before = headerOffset + 30 + nameBytes.count + zip64Extra + 4
        let pad = (64 - before % 64) % 64
        h.u16(UInt16(zip64Extra + 4 + pad))
        h.append(nameBytes)
        if zip64 {
            h.u16(0x0001); h.u16(16); h.u64(UInt64(size)); h.u64(UInt64(size))
        }
        h.u16(0x4246); h.u16(UInt16(pad)); h.append(repeatElement(UInt8(ascii: "Z"), count: pad))
        try out.write(h.bytes)
        var crc = CRC32()
        var written = 0
        try body { chunk in
            crc.update(chunk)
            written += chunk.count
            try out.write(chunk)
        }
        guard written == size else {
            throw CheckpointError(.malformed, file: out.path, "zip entry '\(name)': wrote \(written) bytes, announced \(size)")
        }
        var c = ByteWriter()
        c.u32(crc.value)
        try out.patch(c.bytes, at: headerOffset + 14)
        central.append(Central(name: nameBytes, offset: headerOffset, size: size, crc: crc.value))
    }

    func addEntry(name: String, bytes: [UInt8]) throws {
        try addEntry(name: name, size: bytes.count) { emit in try bytes.withUnsafeBytes { try emit($0) } }
    }

    /// Writes the central directory and end records.
    func finish() throws {
        let cdStart = out.offset
        var w = ByteWriter()
        for e in central {
            let big = needs64(e.size) || needs64(e.offset)
            var extra = ByteWriter()
            if big {
                extra.u16(0x0001)
                var body = ByteWriter()
                if needs64(e.size) { body.u64(UInt64(e.size)); body.u64(UInt64(e.size)) }
                if needs64(e.offset) { body.u64(UInt64(e.offset)) }
                extra.u16(UInt16(body.bytes.count))
                extra.append(body.bytes)
            }
            w.u32(0x0201_4B50)
            w.u16(big ? 45 : 20); w.u16(big ? 45 : 20)
            w.u16(0); w.u16(0); w.u16(0); w.u16(0)
            w.u32(e.crc)
            w.u32(needs64(e.size) ? 0xFFFF_FFFF : UInt32(e.size))
            w.u32(needs64(e.size) ? 0xFFFF_FFFF : UInt32(e.size))
            w.u16(UInt16(e.name.count)); w.u16(UInt16(extra.bytes.count)); w.u16(0)
            w.u16(0); w.u16(0); w.u32(0)
            w.u32(needs64(e.offset) ? 0xFFFF_FFFF : UInt32(e.offset))
            w.append(e.name)
            w.append(extra.bytes)
        }
        let cdSize = w.bytes.count
        let zip64 = forceZip64 || central.count >= 0xFFFF || cdStart >= 0xFFFF_FFFF || cdSize >= 0xFFFF_FFFF
        if zip64 {
            let recordOffset = cdStart + cdSize
            w.u32(0x0606_4B50); w.u64(44); w.u16(45); w.u16(45); w.u32(0); w.u32(0)
            w.u64(UInt64(central.count)); w.u64(UInt64(central.count))
            w.u64(UInt64(cdSize)); w.u64(UInt64(cdStart))
            w.u32(0x0706_4B50); w.u32(0); w.u64(UInt64(recordOffset)); w.u32(1)
        }
        w.u32(0x0605_4B50); w.u16(0); w.u16(0)
        w.u16(zip64 ? 0xFFFF : UInt16(central.count)); w.u16(zip64 ? 0xFFFF : UInt16(central.count))
        w.u32(zip64 ? 0xFFFF_FFFF : UInt32(cdSize)); w.u32(zip64 ? 0xFFFF_FFFF : UInt32(cdStart))
        w.u16(0)
        try out.write(w.bytes)
    }
}
