import Foundation

/// Small JSON helpers: a string escaper for the headers we write by hand (to control key order), and a
/// guarded parser for untrusted headers.
public enum JSONText {
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// Parses untrusted JSON text into Foundation objects. Nesting is checked first (a forged header of
    /// thousands of `[` must not exhaust the parser's stack).
    public static func parse(_ bytes: UnsafeRawBufferPointer, file: String, what: String, maxDepth: Int = 32) throws -> Any {
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
                if depth > maxDepth {
                    throw CheckpointError(.malformed, file: file, "\(what): JSON nested deeper than \(maxDepth) levels")
                }
            case 0x5D, 0x7D: depth -= 1
            default: break
            }
        }
        do {
            return try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw CheckpointError(.malformed, file: file, "\(what) is not valid JSON (\(error.localizedDescription))")
        }
    }

    /// A JSON number that is a non-negative integer, else nil.
    public static func nonNegativeInt(_ v: Any) -> Int? {
        guard let n = v as? NSNumber else { return nil }
        let d = n.doubleValue
        guard d >= 0, d.rounded() == d, d < 9.0e15 else { return nil }
        return n.intValue
    }
}
