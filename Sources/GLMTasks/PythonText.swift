/// The few Python `str` operations the original's language-model readers rely on, on Unicode scalars
/// (code points, as Python strings are), so that `\r\n` or combining marks are not merged into one
/// `Character` the way Swift's grapheme-based `String` would.
enum PythonText {
    /// `str.isspace()` (what `str.split()`, `str.strip()` and `re`'s `\s` use): Unicode White_Space plus
    /// the information separators U+001C...U+001F, without U+200B.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// `s.strip()`.
    static func strip(_ s: String) -> String {
        let u = Array(s.unicodeScalars)
        guard let a = u.firstIndex(where: { !isSpace($0) }), let b = u.lastIndex(where: { !isSpace($0) }) else { return "" }
        return string(u[a...b])
    }

    /// `s.split()`: runs of whitespace separate, no empty pieces.
    static func splitWhitespace(_ s: String) -> [String] {
        var out: [String] = [], cur = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            if isSpace(c) { if !cur.isEmpty { out.append(String(cur)); cur = String.UnicodeScalarView() } } else { cur.append(c) }
        }
        if !cur.isEmpty { out.append(String(cur)) }
        return out
    }

    /// `len(s.split(" "))`: single spaces separate and empty pieces count (`"".split(" ")` is `[""]`).
    static func countSpaceSeparated(_ s: String) -> Int {
        1 + s.unicodeScalars.reduce(0) { $0 + ($1 == " " ? 1 : 0) }
    }

    static func string<C: Collection>(_ scalars: C) -> String where C.Element == Unicode.Scalar {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars)
        return String(v)
    }

    /// `s.replace(old, new)`: non-overlapping, left to right.
    static func replace(_ s: [Unicode.Scalar], _ old: String, _ new: String) -> [Unicode.Scalar] {
        let o = Array(old.unicodeScalars), n = Array(new.unicodeScalars)
        guard !o.isEmpty, s.count >= o.count else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if i + o.count <= s.count && s[i] == o[0] && s[i..<(i + o.count)].elementsEqual(o) {
                out += n
                i += o.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}
