/// The original's `tasks/language_model/detokenizer.py wikitext_detokenizer`: undoes the WikiText
/// tokenisation (` @-@ `, ` , `, `( x )`, `= = History = =`, ...) before the text is re-tokenised, so that
/// the model sees ordinary prose. Rules run in the original's order on code points.
///
/// Reproduced quirks:
/// * `re.sub(r"/' [0-9]/", r"/'[0-9]/", s)` is a literal pattern with slashes: it only rewrites text of the
///   form `/' 7/` into the literal `/'[0-9]/` (the original meant a contraction rule; real text never has it).
/// * Bracket and quote rules pair each opening character with the FIRST closing one after it and trim the
///   whitespace inside (`( as of 2020 )` → `(as of 2020)`); for `"` and `'` the same character closes, so
///   apostrophes in a paragraph pair up across words (`it 's a ' b` → `it's a' b`).
/// * ` N ` becomes ` 1 ` (the PTB number placeholder).
public enum WikitextDetokenizer {
    public static func detokenize(_ text: String) -> String {
        var s = Array(text.unicodeScalars)
        s = PythonText.replace(s, "s '", "s'")
        s = literalSlashRule(s)
        for (a, b) in [(" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."),
                       (" : ", ": "), (" ; ", "; "), (" . ", ". "), (" ! ", "! "), (" ? ", "? "), (" , ", ", ")] {
            s = PythonText.replace(s, a, b)
        }
        for (open, close) in [("(", ")"), ("[", "]"), ("{", "}"), ("\"", "\""), ("'", "'")] as [(Unicode.Scalar, Unicode.Scalar)] {
            s = trimInsidePairs(s, open: open, close: close)
        }
        for (a, b) in [("= = = =", "===="), ("= = =", "==="), ("= =", "=="), (" \u{B0} ", "\u{B0}"),
                       (" \n", "\n"), ("\n ", "\n"), (" N ", " 1 "), (" 's", "'s")] {
            s = PythonText.replace(s, a, b)
        }
        return PythonText.string(s)
    }

    /// `re.sub(r"/' [0-9]/", r"/'[0-9]/", s)`.
    static func literalSlashRule(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = [], i = 0
        let replacement = Array("/'[0-9]/".unicodeScalars)
        while i < s.count {
            if i + 5 <= s.count, s[i] == "/", s[i + 1] == "'", s[i + 2] == " ", ("0"..."9").contains(s[i + 3]), s[i + 4] == "/" {
                out += replacement
                i += 5
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// `re.sub(r"\(\s*([^\)]*?)\s*\)", r"(\1)", s)` for one pair of characters.
    static func trimInsidePairs(_ s: [Unicode.Scalar], open: Unicode.Scalar, close: Unicode.Scalar) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = [], i = 0
        while i < s.count {
            guard let p = s[i...].firstIndex(of: open), let q = s[(p + 1)...].firstIndex(of: close) else { break }
            out += s[i..<p]
            var a = p + 1, b = q
            while a < b && PythonText.isSpace(s[a]) { a += 1 }
            while b > a && PythonText.isSpace(s[b - 1]) { b -= 1 }
            out.append(open)
            out += s[a..<b]
            out.append(close)
            i = q + 1
        }
        if i < s.count { out += s[i...] }
        return out
    }
}
