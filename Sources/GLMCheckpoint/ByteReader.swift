/// A cursor over untrusted bytes. Every read is bounds-checked and throws `CheckpointError(.truncated)` —
/// never traps — because checkpoint files come from the internet and may be cut short or forged.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String
    /// Added to positions in error messages, so that they are offsets in the file, not in this window.
    let baseOffset: Int
    var position: Int = 0

    init(_ bytes: UnsafeRawBufferPointer, file: String, baseOffset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.baseOffset = baseOffset
    }

    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position >= bytes.count }

    func fail(_ what: String, need: Int) -> CheckpointError {
        CheckpointError(.truncated, file: file,
                        "\(what) at byte \(baseOffset + position) needs \(need) bytes, only \(max(0, remaining)) left")
    }

    mutating func take(_ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= remaining else { throw fail(what, need: n) }
        let s = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
        position += n
        return s
    }

    mutating func u8(_ what: String) throws -> UInt8 {
        guard remaining >= 1 else { throw fail(what, need: 1) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16(_ what: String) throws -> UInt16 { UInt16(truncatingIfNeeded: try uint(2, what)) }
    mutating func u32(_ what: String) throws -> UInt32 { UInt32(truncatingIfNeeded: try uint(4, what)) }
    mutating func u64(_ what: String) throws -> UInt64 { try uint(8, what) }

    /// Little-endian unsigned integer of `n` ≤ 8 bytes.
    mutating func uint(_ n: Int, _ what: String) throws -> UInt64 {
        let s = try take(n, what)
        var v: UInt64 = 0
        for i in stride(from: n - 1, through: 0, by: -1) { v = (v << 8) | UInt64(s[i]) }
        return v
    }

    /// Reads until (not including) `terminator`; used for the text lines of the pickle GLOBAL opcode.
    mutating func line(maxLength: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        let start = position
        var i = position
        while i < bytes.count, i - start <= maxLength {
            if bytes[i] == 0x0A {
                position = i + 1
                return UnsafeRawBufferPointer(rebasing: bytes[start..<i])
            }
            i += 1
        }
        throw CheckpointError(.truncated, file: file,
                              "\(what) at byte \(baseOffset + start): no newline within \(maxLength) bytes")
    }
}

/// Little-endian byte sink used by the writers.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { uint(UInt64(v), 2) }
    mutating func u32(_ v: UInt32) { uint(UInt64(v), 4) }
    mutating func u64(_ v: UInt64) { uint(v, 8) }
    mutating func uint(_ v: UInt64, _ n: Int) {
        for i in 0..<n { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
    }
    mutating func append<S: Sequence>(_ s: S) where S.Element == UInt8 { bytes.append(contentsOf: s) }
}
