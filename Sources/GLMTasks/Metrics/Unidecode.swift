/// The ASCII transliteration the original's ReCoRD metric applies through the `unidecode` package,
/// for the characters English SuperGLUE text carries.
///
/// Coverage (each character as `unidecode` 1.x transliterates it):
/// * ASCII: unchanged.
/// * U+0080–U+009F (C1 controls): removed. U+00A0–U+00FF (Latin-1 Supplement): letters lose their
///   accents (`é` → `e`), ligatures and special letters spelled out (`æ` → `ae`, `ß` → `ss`, `þ` → `th`),
///   symbols as ASCII (`©` → `(c)`, `½` → ` 1/2`, `«` → `<<`); the soft hyphen is removed.
/// * U+0100–U+017F (Latin Extended-A): the base letter (`ł` → `l`, `ő` → `o`), `ĳ` → `ij`, `œ` → `oe`,
///   `ŋ` → `ng`, `ŉ` → `'n`, long s → `s`.
/// * U+0300–U+036F (combining marks, e.g. after `İ`.lower()): removed, except the combining small
///   letters U+0363–U+036F (→ `a e i o u c d h m r t v x`).
/// * U+2000–U+206F (General Punctuation): spaces → ` `, dashes → `-` / `--`, curly quotes → `'` / `"`,
///   `…` → `...`, bullets → `*`, invisible format characters removed.
/// Any other character is KEPT as it is (the package would transliterate other scripts, e.g. CJK to
/// pinyin; a ReCoRD answer in such a script can therefore normalise differently).
public enum Unidecode {
    public static func transliterate(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for u in text.unicodeScalars {
            if let t = transliteration(u) { out += t } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    /// The replacement of one scalar, or nil when it stays as it is (ASCII and uncovered characters).
    public static func transliteration(_ u: Unicode.Scalar) -> String? {
        let v = Int(u.value)
        switch v {
        case 0..<0x80: return nil
        case 0x80..<0xA0: return ""
        case 0xA0..<0x100: return latin1[v - 0xA0]
        case 0x100..<0x180: return latinExtendedA[v - 0x100]
        case 0x300..<0x363: return ""
        case 0x363..<0x370: return combiningLetters[v - 0x363]
        case 0x2000..<0x2070: return generalPunctuation[v - 0x2000]
        default: return nil
        }
    }

    static let latin1: [String] = [
        " ", "!", "C/", "PS", "$?", "Y=", "|", "SS", "\"", "(c)", "a", "<<", "!", "", "(r)", "-",
        "deg", "+-", "2", "3", "'", "u", "P", "*", ",", "1", "o", ">>", " 1/4", " 1/2", " 3/4", "?",
        "A", "A", "A", "A", "A", "A", "AE", "C", "E", "E", "E", "E", "I", "I", "I", "I",
        "D", "N", "O", "O", "O", "O", "O", "x", "O", "U", "U", "U", "U", "Y", "Th", "ss",
        "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
        "d", "n", "o", "o", "o", "o", "o", "/", "o", "u", "u", "u", "u", "y", "th", "y",
    ]

    static let latinExtendedA: [String] = {
        // Pairs upper/lower from U+0100, with the letters that are not a plain base letter spelled out.
        let bases = "AaAaAaCcCcCcCcDdDdEeEeEeEeEeGgGgGgGgHhHhIiIiIiIiIi"   // U+0100–U+0131
        var table = bases.map(String.init)
        table += ["IJ", "ij", "J", "j", "K", "k", "k"]                       // U+0132–U+0138
        table += "LlLlLlLlLlNnNnNn".map(String.init)                         // U+0139–U+0148
        table += ["'n", "NG", "ng"]                                          // U+0149–U+014B
        table += "OoOoOo".map(String.init)                                   // U+014C–U+0151
        table += ["OE", "oe"]                                                // U+0152–U+0153
        table += "RrRrRrSsSsSsSsTtTtTtUuUuUuUuUuUuWwYyYZzZzZzs".map(String.init) // U+0154–U+017F
        precondition(table.count == 0x80)
        return table
    }()

    static let combiningLetters: [String] = ["a", "e", "i", "o", "u", "c", "d", "h", "m", "r", "t", "v", "x"]

    static let generalPunctuation: [String] = {
        var t = [String](repeating: " ", count: 0x0C)                         // U+2000–U+200B spaces
        t += ["", "", "", ""]                                                // U+200C–U+200F joiners, marks
        t += ["-", "-", "-", "-", "--", "--", "||", "_"]                     // U+2010–U+2017
        t += ["'", "'", ",", "'", "\"", "\"", ",,", "\""]                    // U+2018–U+201F
        t += ["+", "++", "*", "*>", ".", "..", "...", "."]                   // U+2020–U+2027
        t += ["\n", "\n\n", "", "", "", "", "", " "]                         // U+2028–U+202F
        t += ["%0", "%00", "'", "''", "'''", "`", "``", "```"]               // U+2030–U+2037
        t += ["^", "<", ">", "*", "!!", "!?", "-", "_"]                      // U+2038–U+203F
        t += ["-", "^", "***", "--", "/", "-[", "]-", "??"]                  // U+2040–U+2047
        t += ["?!", "!?", "&", "PP", "(]", "[)", "*", ""]                    // U+2048–U+204F
        t += ["", "", "%", "~", "", "", "", "''''"]                          // U+2050–U+2057
        t += ["", "", "", "", "", "", "", " "]                               // U+2058–U+205F
        t += [String](repeating: "", count: 0x10)                            // U+2060–U+206F
        precondition(t.count == 0x70)
        return t
    }()
}
