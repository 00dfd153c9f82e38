// Character classes that the original tokenizers take from Python's `unicodedata`, `str.isspace`
// and the `regex` module, looked up from one table for the Basic Multilingual Plane so that the hot
// loops pay an array load instead of a Unicode property query.

/// Bit flags describing one scalar.
struct ScalarClass: OptionSet, Sendable {
    let rawValue: UInt16
    /// General category L* (regex `\p{L}`).
    static let letter = ScalarClass(rawValue: 1 << 0)
    /// General category N* (regex `\p{N}`).
    static let number = ScalarClass(rawValue: 1 << 1)
    /// Unicode White_Space: the `regex` module's `\s` (it excludes U+001C...U+001F).
    static let regexSpace = ScalarClass(rawValue: 1 << 2)
    /// Python `str.isspace()` (used by `strip()`, `rstrip()` and `split()`).
    static let pythonSpace = ScalarClass(rawValue: 1 << 3)
    /// BERT `_is_whitespace`: space, \t, \n, \r or category Zs.
    static let bertWhitespace = ScalarClass(rawValue: 1 << 4)
    /// BERT `_is_control`: category C* except \t, \n, \r.
    static let bertControl = ScalarClass(rawValue: 1 << 5)
    /// BERT `_is_punctuation`: ASCII punctuation ranges or category P*.
    static let bertPunctuation = ScalarClass(rawValue: 1 << 6)
    /// BERT `_is_chinese_char`: the CJK ideograph blocks.
    static let cjk = ScalarClass(rawValue: 1 << 7)
    /// General category Mn (dropped by BERT's accent stripping).
    static let nonspacingMark = ScalarClass(rawValue: 1 << 8)
}

/// Python's `str.isspace()` set (Unicode 14 as in CPython 3.11; stable for years).
@inline(__always)
func isPythonSpace(_ v: UInt32) -> Bool {
    switch v {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
        return true
    default:
        return false
    }
}

@inline(__always)
func isBertCJK(_ cp: UInt32) -> Bool {
    (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF)
        || (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF)
        || (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F)
}

/// Computes the class of a scalar from the Unicode properties (slow path; the table caches it).
func computeScalarClass(_ v: UInt32) -> ScalarClass {
    guard let scalar = Unicode.Scalar(v) else {
        // Surrogate code points never reach here from Swift strings; treat them like Python's Cs.
        return [.bertControl]
    }
    var c: ScalarClass = []
    let category = scalar.properties.generalCategory
    switch category {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
        c.insert(.letter)
    case .decimalNumber, .letterNumber, .otherNumber:
        c.insert(.number)
    case .control, .format, .surrogate, .privateUse, .unassigned:
        if v != 0x09 && v != 0x0A && v != 0x0D { c.insert(.bertControl) }
    case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
         .initialPunctuation, .finalPunctuation, .otherPunctuation:
        c.insert(.bertPunctuation)
    case .nonspacingMark:
        c.insert(.nonspacingMark)
    default:
        break
    }
    if scalar.properties.isWhitespace { c.insert(.regexSpace) }
    if isPythonSpace(v) { c.insert(.pythonSpace) }
    if v == 0x20 || v == 0x09 || v == 0x0A || v == 0x0D || category == .spaceSeparator { c.insert(.bertWhitespace) }
    if (v >= 33 && v <= 47) || (v >= 58 && v <= 64) || (v >= 91 && v <= 96) || (v >= 123 && v <= 126) {
        c.insert(.bertPunctuation)
    }
    if isBertCJK(v) { c.insert(.cjk) }
    return c
}

/// The BMP class table, built once per process on first use (about 65k property queries, a few ms).
let bmpScalarClasses: [UInt16] = {
    var table = [UInt16](repeating: 0, count: 0x10000)
    for v in 0..<UInt32(0x10000) {
        table[Int(v)] = computeScalarClass(v).rawValue
    }
    return table
}()

/// Class of any scalar: a table load in the BMP, a property query above it.
@inline(__always)
func scalarClass(_ v: UInt32) -> ScalarClass {
    if v < 0x10000 {
        return bmpScalarClasses.withUnsafeBufferPointer { ScalarClass(rawValue: $0[Int(v)]) }
    }
    return computeScalarClass(v)
}

/// Python `str.strip()` on UTF-8 bytes: true when every scalar is whitespace (or there is none).
func isPythonBlank(_ p: UnsafeBufferPointer<UInt8>) -> Bool {
    var i = 0
    while i < p.count {
        let (v, len) = decodeScalar(p, i)
        if !isPythonSpace(v) { return false }
        i += len
    }
    return true
}

/// End index after Python `rstrip()` of `p[start..<end]`.
func pythonRStripEnd(_ p: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Int {
    var e = end
    while e > start {
        // Step back to the lead byte of the last scalar.
        var s = e - 1
        while s > start && p[s] & 0xC0 == 0x80 && e - s < 4 { s -= 1 }
        let (v, len) = decodeScalar(p, s)
        if s + len != e || !isPythonSpace(v) { break }
        e = s
    }
    return e
}

/// Start index after Python `lstrip()` of `p[start..<end]`.
func pythonLStripStart(_ p: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> Int {
    var s = start
    while s < end {
        let (v, len) = decodeScalar(p, s)
        if !isPythonSpace(v) { break }
        s += len
    }
    return s
}
