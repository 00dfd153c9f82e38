import Foundation

// A small JSON reader/writer for what the project writes and reads by hand: string literals for headers
// and JSON lines whose key order matters, vocab.json (an object of string → integer), the CLI's JSON-lines
// protocol (one string or one array of integers per line), and a nesting guard for untrusted headers.
// The reader is hand-written rather than JSONSerialization so that lone surrogate escapes (\ud800), which
// Python accepts, become U+FFFD instead of failing the whole document, and so errors can name a column.

/// JSON escaping and parsing shared by checkpoints, tokenizers, generation and the CLI. WHY here: the
/// checkpoint and tokenizer modules each had an escaper, and they disagreed on DEL.
public enum JSONText {
    /// A syntax error at a byte offset of the input.
    public struct ParseError: Error, CustomStringConvertible, Equatable, Sendable {
        public let offset: Int
        public let message: String
        public var description: String { "\(message) at byte \(offset)" }
    }

    struct Reader {
        let p: UnsafeBufferPointer<UInt8>
        var i = 0

        init(_ p: UnsafeBufferPointer<UInt8>) { self.p = p }

        func fail(_ message: String) -> ParseError { ParseError(offset: i, message: message) }

        mutating func skipSpace() {
            while i < p.count, p[i] == 0x20 || p[i] == 0x09 || p[i] == 0x0A || p[i] == 0x0D { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            skipSpace()
            guard i < p.count, p[i] == c else {
                throw fail("expected '\(Character(Unicode.Scalar(c)))'")
            }
            i += 1
        }

        mutating func atEnd() -> Bool { skipSpace(); return i >= p.count }

        mutating func peek() -> UInt8? { skipSpace(); return i < p.count ? p[i] : nil }

        private mutating func hex4() throws -> UInt32 {
            guard i + 4 <= p.count else { throw fail("truncated \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = p[i]
                let d: UInt32
                switch c {
                case 0x30...0x39: d = UInt32(c - 0x30)
                case 0x41...0x46: d = UInt32(c - 0x41 + 10)
                case 0x61...0x66: d = UInt32(c - 0x61 + 10)
                default: throw fail("bad hex digit in \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        /// A JSON string as UTF-8 bytes (raw invalid UTF-8 is kept; the caller decodes with replacement).
        mutating func string() throws -> [UInt8] {
            try expect(0x22)
            var out: [UInt8] = []
            while true {
                guard i < p.count else { throw fail("unterminated string") }
                let c = p[i]
                if c == 0x22 { i += 1; return out }
                if c == 0x5C {
                    i += 1
                    guard i < p.count else { throw fail("unterminated escape") }
                    let e = p[i]
                    i += 1
                    switch e {
                    case 0x22: out.append(0x22)
                    case 0x5C: out.append(0x5C)
                    case 0x2F: out.append(0x2F)
                    case 0x62: out.append(0x08)
                    case 0x66: out.append(0x0C)
                    case 0x6E: out.append(0x0A)
                    case 0x72: out.append(0x0D)
                    case 0x74: out.append(0x09)
                    case 0x75:
                        var v = try hex4()
                        if v >= 0xD800 && v < 0xDC00 {
                            // A high surrogate: pair it with a following low surrogate if there is one.
                            if i + 6 <= p.count, p[i] == 0x5C, p[i + 1] == 0x75 {
                                let save = i
                                i += 2
                                let low = try hex4()
                                if low >= 0xDC00 && low < 0xE000 {
                                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                                } else {
                                    i = save
                                    v = 0xFFFD
                                }
                            } else {
                                v = 0xFFFD
                            }
                        } else if v >= 0xDC00 && v < 0xE000 {
                            v = 0xFFFD
                        }
                        UTF8.encode(Unicode.Scalar(v)!) { out.append($0) }
                    default:
                        throw fail("bad escape \\\(Character(Unicode.Scalar(e)))")
                    }
                    continue
                }
                if c < 0x20 { throw fail("control character in string") }
                out.append(c)
                i += 1
            }
        }

        mutating func integer() throws -> Int {
            skipSpace()
            let start = i
            var negative = false
            if i < p.count, p[i] == 0x2D { negative = true; i += 1 }
            var v = 0
            var digits = 0
            while i < p.count, p[i] >= 0x30, p[i] <= 0x39 {
                let (m, o1) = v.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int(p[i] - 0x30))
                if o1 || o2 { i = start; throw fail("integer out of range") }
                v = a
                digits += 1
                i += 1
            }
            if digits == 0 { i = start; throw fail("expected an integer") }
            if i < p.count, p[i] == 0x2E || p[i] == 0x65 || p[i] == 0x45 { i = start; throw fail("expected an integer") }
            return negative ? -v : v
        }
    }

    /// Parses `{"token": id, ...}`; duplicate keys: the last one wins (as Python's json does).
    public static func parseStringIntObject(_ bytes: [UInt8]) throws -> [(key: [UInt8], value: Int)] {
        try bytes.withUnsafeBufferPointer { b in
            var r = Reader(b)
            var result: [(key: [UInt8], value: Int)] = []
            try r.expect(0x7B)
            if r.peek() == 0x7D { r.i += 1 } else {
                while true {
                    let k = try r.string()
                    try r.expect(0x3A)
                    let v = try r.integer()
                    result.append((k, v))
                    if r.peek() == 0x2C { r.i += 1; continue }
                    try r.expect(0x7D)
                    break
                }
            }
            guard r.atEnd() else { throw r.fail("trailing characters") }
            return result
        }
    }

    /// Parses a line holding one JSON string.
    public static func parseString(_ line: [UInt8]) throws -> String {
        try line.withUnsafeBufferPointer { b in
            var r = Reader(b)
            let s = try r.string()
            guard r.atEnd() else { throw r.fail("trailing characters after the string") }
            return String(decoding: s, as: UTF8.self)
        }
    }

    /// Parses a line holding one JSON array of integers.
    public static func parseIntArray(_ line: [UInt8]) throws -> [Int] {
        try line.withUnsafeBufferPointer { b in
            var r = Reader(b)
            var out: [Int] = []
            try r.expect(0x5B)
            if r.peek() == 0x5D { r.i += 1 } else {
                while true {
                    out.append(try r.integer())
                    if r.peek() == 0x2C { r.i += 1; continue }
                    try r.expect(0x5D)
                    break
                }
            }
            guard r.atEnd() else { throw r.fail("trailing characters after the array") }
            return out
        }
    }

    /// A JSON string literal; non-ASCII is written as UTF-8 (like `ensure_ascii=False`). Escaped: `"`, `\`,
    /// \n, \r, \t by name; the other C0 controls (< 0x20) AND DEL (0x7F) as `\u00xx`. (The checkpoint
    /// writer used not to escape DEL; escaping it is equally valid JSON, reads back the same, and keeps the
    /// CLI's JSON-lines outputs as they were.)
    public static func quote(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if c.value < 0x20 || c.value == 0x7F {
                    let hex = String(c.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
        return out
    }
}

extension JSONText {
    /// Whether `bytes` nest `[`/`{` deeper than `maxDepth` (strings skipped). Checked before handing
    /// untrusted text to JSONSerialization: a forged header of thousands of `[` must not exhaust its stack.
    public static func nestsDeeper(than maxDepth: Int, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x5B, 0x7B:
                depth += 1
                if depth > maxDepth { return true }
            case 0x5D, 0x7D: depth -= 1
            default: break
            }
        }
        return false
    }

    /// A JSON number (as JSONSerialization returns it) that is a non-negative integer, else nil.
    public static func nonNegativeInt(_ v: Any) -> Int? {
        guard let n = v as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d >= 0, d.rounded() == d, d < 9.0e15 else { return nil }
        return n.intValue
    }
}
