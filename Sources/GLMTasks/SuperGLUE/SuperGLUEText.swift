/// The Python string and list operations the original's SuperGLUE readers and patterns rely on, on
/// Unicode scalars as Python strings are.
enum SuperGLUEText {
    /// `data_utils/corpora.py punctuation_standardization`: curly quotes to ASCII, en dash to `-`.
    static func standardize(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            switch c.value {
            case 0x201C, 0x201D: out.append("\"")
            case 0x2018, 0x2019: out.append("'")
            case 0x2013: out.append("-")
            default: out.append(c)
            }
        }
        return String(out)
    }

    /// `string.punctuation`.
    static let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    /// `s.rstrip(string.punctuation)`.
    static func rstripPunctuation(_ s: String) -> String {
        var u = Array(s.unicodeScalars)
        while let last = u.last, punctuation.contains(last) { u.removeLast() }
        return PythonText.string(u)
    }

    /// `s.rstrip()`.
    static func rstrip(_ s: String) -> String {
        var u = Array(s.unicodeScalars)
        while let last = u.last, PythonText.isSpace(last) { u.removeLast() }
        return PythonText.string(u)
    }

    /// `s[0].lower() + s[1:]` (`s[0].upper() + …` for `upper`); the empty string stays empty.
    static func changeFirst(_ s: String, upper: Bool = false) -> String {
        var u = Array(s.unicodeScalars)
        guard let first = u.first else { return s }
        let changed = upper ? String(first).uppercased() : String(first).lowercased()
        u.removeFirst()
        return changed + PythonText.string(u)
    }

    /// `s.lower()` (Unicode default case mapping, as Python's).
    static func lower(_ s: String) -> String { s.lowercased() }

    /// `s.split(sep)` for a non-empty separator.
    static func split(_ s: String, separator: String) -> [String] {
        let u = Array(s.unicodeScalars), sep = Array(separator.unicodeScalars)
        var parts: [String] = [], start = 0, i = 0
        while i + sep.count <= u.count {
            if u[i..<(i + sep.count)].elementsEqual(sep) {
                parts.append(PythonText.string(u[start..<i])); i += sep.count; start = i
            } else { i += 1 }
        }
        parts.append(PythonText.string(u[start...]))
        return parts
    }

    /// Python's `a < b` on strings: code point order.
    static func pythonLess(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    /// `s[start:end]` on code points, with Python's clamping and negative indices.
    static func slice(_ s: String, _ start: Int, _ end: Int) -> String {
        PythonText.string(sliceArray(Array(s.unicodeScalars), start, end))
    }

    /// `a[start:end]` with Python's clamping and negative indices.
    static func sliceArray<T>(_ a: [T], _ start: Int, _ end: Int) -> [T] {
        let n = a.count
        func norm(_ i: Int) -> Int { i < 0 ? max(0, i + n) : min(i, n) }
        let s = norm(start), e = norm(end)
        return s < e ? Array(a[s..<e]) : []
    }

    /// The array index Python's `a[i]` reads (negative counts from the end); nil where Python raises IndexError.
    static func index(_ i: Int, count n: Int) -> Int? {
        let j = i < 0 ? i + n : i
        return j >= 0 && j < n ? j : nil
    }
}
