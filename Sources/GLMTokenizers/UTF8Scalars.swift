// Decoding and encoding Unicode scalars directly on UTF-8 bytes, so that hot loops never go through
// String.Index (whose grapheme machinery costs far more than the tokenizers' own work).

/// Decodes the scalar starting at `i`. Malformed input yields U+FFFD and consumes one byte, as
/// SentencePiece does; Swift strings are always well formed, so this only guards raw files.
@inline(__always)
func decodeScalar(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    let n = p.count
    if b0 >= 0xC2 && b0 < 0xE0 {
        if i + 1 < n, p[i + 1] & 0xC0 == 0x80 {
            return (((b0 & 0x1F) << 6) | UInt32(p[i + 1] & 0x3F), 2)
        }
    } else if b0 >= 0xE0 && b0 < 0xF0 {
        if i + 2 < n, p[i + 1] & 0xC0 == 0x80, p[i + 2] & 0xC0 == 0x80 {
            let v = ((b0 & 0x0F) << 12) | (UInt32(p[i + 1] & 0x3F) << 6) | UInt32(p[i + 2] & 0x3F)
            if v >= 0x800 && !(0xD800...0xDFFF).contains(v) { return (v, 3) }
        }
    } else if b0 >= 0xF0 && b0 < 0xF5 {
        if i + 3 < n, p[i + 1] & 0xC0 == 0x80, p[i + 2] & 0xC0 == 0x80, p[i + 3] & 0xC0 == 0x80 {
            let v = ((b0 & 0x07) << 18) | (UInt32(p[i + 1] & 0x3F) << 12)
                | (UInt32(p[i + 2] & 0x3F) << 6) | UInt32(p[i + 3] & 0x3F)
            if v >= 0x10000 && v <= 0x10FFFF { return (v, 4) }
        }
    }
    return (0xFFFD, 1)
}

/// Length in bytes of the UTF-8 sequence a lead byte announces (1 for stray continuation bytes).
@inline(__always)
func utf8SequenceLength(_ lead: UInt8) -> Int {
    if lead < 0xC0 { return 1 }
    if lead < 0xE0 { return 2 }
    if lead < 0xF0 { return 3 }
    return 4
}

/// Appends the UTF-8 encoding of `v` to `out`.
@inline(__always)
func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
    if v < 0x80 {
        out.append(UInt8(v))
    } else if v < 0x800 {
        out.append(UInt8(0xC0 | (v >> 6)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else if v < 0x10000 {
        out.append(UInt8(0xE0 | (v >> 12)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (v >> 18)))
        out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    }
}

/// Bytes → String, replacing malformed sequences with U+FFFD (Python's `errors='replace'` gives the
/// same replacement count: both follow the Unicode "maximal subpart" practice).
@inline(__always)
func stringFromUTF8<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    String(decoding: bytes, as: UTF8.self)
}
