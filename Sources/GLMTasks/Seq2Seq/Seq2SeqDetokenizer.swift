/// The text clean-ups of the original's `tasks/seq2seq/dataset.py`, applied per stripped line in the
/// original's order (each `str.replace` on code points, left to right, in sequence).
public enum Seq2SeqDetokenizer {
    /// `punctuation_standardization` (`data_utils/corpora.py`): curly quotes to ASCII, en dash to `-`.
    /// The summarization readers apply it before the detokenizer.
    public static func punctuationStandardization(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0 == "\u{201C}" || $0 == "\u{201D}" || $0 == "\u{2019}" || $0 == "\u{2018}" || $0 == "\u{2013}" })
        else { return s }
        var v = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            switch c {
            case "\u{201C}", "\u{201D}": v.append("\"")
            case "\u{2019}", "\u{2018}": v.append("'")
            case "\u{2013}": v.append("-")
            default: v.append(c)
            }
        }
        return String(v)
    }

    /// `cnndm_detokenize`: `<S_SEP>` is dropped from sources and becomes `[SEP]` in targets (the
    /// sentence separator the ROUGE metric splits on); PTB brackets `-LRB-`...; ``` `` ``` and `''` to `"`,
    /// `` ` `` to `'`; clitics re-attached (` n't`, ` 's`, ` 'd`, ` 'll`).
    public static func cnnDM(_ s: String, isTarget: Bool) -> String {
        replacing(s, [("<S_SEP>", isTarget ? "[SEP]" : ""),
                      ("-LRB-", "("), ("-RRB-", ")"), ("-LSB-", "["), ("-RSB-", "]"), ("-LCB-", "{"), ("-RCB-", "}"),
                      ("''", "\""), ("``", "\""), ("`", "'"),
                      (" n't", "n't"), (" 's", "'s"), (" 'd", "'d"), (" 'll", "'ll")])
    }

    /// `gigaword_detokenize` (sources and targets alike): `UNK` and `<unk>` to `[UNK]` (so `UNK` inside a
    /// word is replaced too), lower-case PTB brackets, then `&amp;`, `&lt;`, `&gt;`.
    public static func gigaword(_ s: String, isTarget: Bool = false) -> String {
        replacing(s, [("UNK", "[UNK]"), ("<unk>", "[UNK]"),
                      ("-lrb-", "("), ("-rrb-", ")"), ("-lsb-", "["), ("-rsb-", "]"), ("-lcb-", "{"), ("-rcb-", "}"),
                      ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")])
    }

    /// `blanklm_detokenize`: `_UNK` to `[UNK]`, `<blank>` to `[MASK]`.
    public static func blank(_ s: String) -> String {
        replacing(s, [("_UNK", "[UNK]"), ("<blank>", "[MASK]")])
    }

    static func replacing(_ s: String, _ pairs: [(String, String)]) -> String {
        var u = Array(s.unicodeScalars)
        for (old, new) in pairs { u = PythonText.replace(u, old, new) }
        return PythonText.string(u)
    }
}
