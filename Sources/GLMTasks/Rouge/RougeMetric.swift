import Foundation

/// How `RougeMetric` prepares and scores the text.
public enum RougeMode: String, Sendable, CaseIterable {
    /// The original's `rouge_metric(dataset='cnn_dm')` (any BERT model): PTB-style `fix_tokenization`.
    case cnnDM = "cnn_dm"
    /// `dataset='cnn_dm_org'`: no fix-ups.
    case cnnDMOrg = "cnn_dm_org"
    /// `dataset='gigaword'`: only `[UNK]` → `UNK`.
    case gigaword
    /// Plain rouge-score: `RougeScorer.score(reference, prediction)` on the lines as given.
    case plain

    public var isOriginal: Bool { self != .plain }
}

public enum RougeError: Error, CustomStringConvertible, Equatable {
    case lineCountMismatch(predictionFile: String, predictions: Int, referenceFile: String, references: Int)
    case countMismatch(predictions: Int, references: Int)
    case empty
    case unreadable(String, String)

    public var description: String {
        switch self {
        case let .lineCountMismatch(pf, p, rf, r):
            return "line counts differ: \(pf) has \(p) prediction line(s), \(rf) has \(r) reference line(s)"
        case let .countMismatch(p, r): return "\(p) prediction(s) but \(r) reference(s)"
        case .empty: return "no prediction/reference pairs to score"
        case let .unreadable(path, why): return "cannot read \(path): \(why)"
        }
    }
}

/// The outcome of `RougeMetric.evaluate`.
public struct RougeMetricResult: Sendable, Equatable {
    public var mode: RougeMode
    /// The lines that were scored; in the original's modes exactly the `pred`/`ref` it writes to
    /// `results.json` (sentences joined by `"\n"`).
    public var predictions: [String]
    public var references: [String]
    /// Per pair, oriented as usual: precision is measured on the prediction, recall on the reference.
    public var pairs: [RougeScores]
    /// Field-wise means over the pairs.
    public var mean: RougeScores

    /// What the original's `rouge_metric` returns for `metric` = `rouge-1`, `rouge-2`, `rouge-l` (the mean
    /// F1 of rouge1, rouge2 and — the name notwithstanding — rougeLsum).
    public var originalMetrics: [String: Double] {
        ["rouge-1": mean.rouge1.fmeasure, "rouge-2": mean.rouge2.fmeasure, "rouge-l": mean.rougeLsum.fmeasure]
    }

    /// One JSON object: `{"rouge1": {"precision": p, "recall": r, "fmeasure": f}, "rouge2": …, "rougeL": …,
    /// "rougeLsum": …}`, means as fractions, numbers in shortest round-trip form.
    public var jsonLine: String {
        func obj(_ s: RougeScore) -> String {
            "{\"precision\": \(s.precision), \"recall\": \(s.recall), \"fmeasure\": \(s.fmeasure)}"
        }
        return "{\"rouge1\": \(obj(mean.rouge1)), \"rouge2\": \(obj(mean.rouge2)), \"rougeL\": \(obj(mean.rougeL)), \"rougeLsum\": \(obj(mean.rougeLsum))}"
    }
}

/// ROUGE as THUDM/GLM's `tasks/seq2seq/evaluate.py rouge_metric` computes it during fine-tuning, plus
/// plain rouge-score.
///
/// The original, per pair: the reference is `strip()`ped, split on `[SEP]`, each piece `fix_tokenization`ed
/// and joined with `"\n"` (so rougeLsum sees one sentence per piece). The prediction is split the same way,
/// and a piece is DROPPED when it has at most 4 whitespace words; the survivors then pass
/// `remove_duplicate(0.7)`, which drops a sentence when more than 70 % of its (lower-cased) word SET already
/// appeared in earlier sentences — quirk: the history also grows with the sentences it drops. (Its
/// `get_f1(sentence, s) > 1.0` check can never fire: that F1 is at most 1, so nothing is reproduced for it.)
/// A prediction whose sentences are all dropped becomes `""` and scores 0. It then calls
/// `scorer.score(pred, ref)` — arguments SWAPPED, prediction as target. F1 of rouge1/rouge2 is symmetric up to
/// the last bit, but rougeLsum's union-LCS is not, so the swapped call is reproduced and its precision and
/// recall are swapped back for reporting; `fmeasure` is exactly the original's number.
public enum RougeMetric {
    /// Scores pairs; throws when the counts differ or there are none (the original divides by zero).
    public static func evaluate(predictions: [String], references: [String], mode: RougeMode,
                                duplicateRate: Double = 0.7, scorer: RougeScorer = RougeScorer()) throws -> RougeMetricResult {
        guard predictions.count == references.count else {
            throw RougeError.countMismatch(predictions: predictions.count, references: references.count)
        }
        guard !predictions.isEmpty else { throw RougeError.empty }
        let preds = mode.isOriginal ? predictions.map { processPrediction($0, mode: mode, duplicateRate: duplicateRate) } : predictions
        let refs = mode.isOriginal ? references.map { processReference($0, mode: mode) } : references
        let pairs: [RougeScores] = zip(preds, refs).map { pred, ref in
            guard mode.isOriginal else { return scorer.score(reference: ref, prediction: pred) }
            let s = scorer.score(reference: pred, prediction: ref)  // the original's swapped call
            func back(_ x: RougeScore) -> RougeScore { RougeScore(precision: x.recall, recall: x.precision, fmeasure: x.fmeasure) }
            return RougeScores(rouge1: back(s.rouge1), rouge2: back(s.rouge2), rougeL: back(s.rougeL), rougeLsum: back(s.rougeLsum))
        }
        return RougeMetricResult(mode: mode, predictions: preds, references: refs, pairs: pairs, mean: .mean(pairs))
    }

    /// The core of `glm rouge`: one example per line in each file (a final newline ends the last line, a
    /// trailing `\r` is removed); differing line counts are an error naming both files.
    public static func evaluate(predictionFile: String, referenceFile: String, mode: RougeMode) throws -> RougeMetricResult {
        let p = try readLines(predictionFile), r = try readLines(referenceFile)
        guard p.count == r.count else {
            throw RougeError.lineCountMismatch(predictionFile: predictionFile, predictions: p.count,
                                               referenceFile: referenceFile, references: r.count)
        }
        return try evaluate(predictions: p, references: r, mode: mode)
    }

    public static func readLines(_ path: String) throws -> [String] {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw RougeError.unreadable(path, error.localizedDescription)
        }
        return lines(text)
    }

    static func lines(_ text: String) -> [String] {
        var pieces = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { Array($0) }
        if pieces.last?.isEmpty == true { pieces.removeLast() }
        return pieces.map { p in
            var p = p
            if p.last == "\r" { p.removeLast() }
            return py(p)
        }
    }

    // MARK: the original's line processing

    /// `ref.strip().split('[SEP]')`, each piece `fix_tokenization`ed, joined with `"\n"`.
    public static func processReference(_ reference: String, mode: RougeMode) -> String {
        pySplit(pyStrip(reference), on: "[SEP]").map { fixTokenization($0, mode: mode) }.joined(separator: "\n")
    }

    /// `prediction.strip().split("[SEP]")`, fixed, pieces of ≤ 4 words dropped, then `remove_duplicate`.
    public static func processPrediction(_ prediction: String, mode: RougeMode, duplicateRate: Double = 0.7) -> String {
        var kept: [String] = []
        for piece in pySplit(pyStrip(prediction), on: "[SEP]") {
            let sentence = fixTokenization(piece, mode: mode)
            if pyWords(sentence).count <= 4 { continue }
            kept.append(sentence)
        }
        if duplicateRate != 0 && duplicateRate < 1 { kept = removeDuplicates(kept, rate: duplicateRate) }
        return kept.joined(separator: "\n")
    }

    /// `remove_duplicate`: keep a sentence when |words ∩ history| / |words| ≤ rate; every sentence's word set
    /// joins the history, kept or not. Words compare by code points, as Python's set does.
    public static func removeDuplicates(_ sentences: [String], rate: Double) -> [String] {
        var history = Set<[UInt32]>()
        var out: [String] = []
        for s in sentences {
            let words = Set(pyWords(s.lowercased()).map { $0.unicodeScalars.map(\.value) })
            // Python raises ZeroDivisionError on a word-less sentence; the ≤ 4-word filter runs first, so none reach here.
            if !words.isEmpty && Double(words.intersection(history).count) / Double(words.count) <= rate { out.append(s) }
            history.formUnion(words)
        }
        return out
    }

    /// `fix_tokenization(text, dataset)`: `cnn_dm_org` and `plain` leave the text alone (not even the spaces
    /// around `[SEP]`), `gigaword` only turns `[UNK]` into `UNK`, `cnn_dm` re-tokenizes PTB-style and joins
    /// the words with single spaces: `"` → ``` `` ```/`''` alternately, `n ' t` → `n't`, `' s|d|ll` → `'s`,
    /// other `'` → `` ` ``/`'` alternately, `. . .` → `...`, `3 , 000` → `3,000`, `3 . 03` → `3.03`, `U . N .`
    /// → `U.N.` (quirk: the scan for further letters skips one token), `- -` → `--`, and a `-` between two
    /// non-punctuation words glues them (`anti - nuclear` → `anti-nuclear`).
    public static func fixTokenization(_ text: String, mode: RougeMode) -> String {
        switch mode {
        case .cnnDMOrg, .plain: return text
        case .gigaword: return pyReplace(text, "[UNK]", "UNK")
        case .cnnDM: break
        }
        let input = pyWords(text).map { Array($0.unicodeScalars) }
        var output: [[Unicode.Scalar]] = []
        var hasLeftQuote = false, hasLeftSingleQuote = false, prevDash = false
        let n = input.count
        var i = 0
        func tok(_ k: Int) -> [Unicode.Scalar] { input[k] }
        func eq(_ t: [Unicode.Scalar], _ s: String) -> Bool { t == Array(s.unicodeScalars) }
        while i < n {
            let t = input[i]
            var flagPrevDash = false
            if eq(t, "\"") {
                output.append(Array((hasLeftQuote ? "''" : "``").unicodeScalars))
                hasLeftQuote.toggle(); i += 1
            } else if eq(t, "'"), let last = output.last, last.last == "n", i < n - 1, eq(tok(i + 1), "t") {
                output[output.count - 1].removeLast()
                output.append(Array("n't".unicodeScalars)); i += 2
            } else if eq(t, "'"), i < n - 1, ["s", "d", "ll"].contains(where: { eq(tok(i + 1), $0) }) {
                output.append(["'"] + tok(i + 1)); i += 2
            } else if eq(t, "'") {
                output.append([hasLeftSingleQuote ? "'" : "`"])
                hasLeftSingleQuote.toggle(); i += 1
            } else if eq(t, "."), i < n - 2, eq(tok(i + 1), "."), eq(tok(i + 2), ".") {
                output.append(Array("...".unicodeScalars)); i += 3
            } else if eq(t, ","), let last = output.last, isDigitOrComma(last), i < n - 1, isDigitOrComma(tok(i + 1)) {
                output[output.count - 1] += [","] + tok(i + 1); i += 2
            } else if eq(t, "."), let last = output.last, pyIsDigit(last), i < n - 1, pyIsDigit(tok(i + 1)) {
                output[output.count - 1] += ["."] + tok(i + 1); i += 2
            } else if eq(t, "."), let last = output.last, last.count == 1, pyIsAlpha(last), i < n - 2,
                      tok(i + 1).count == 1, pyIsAlpha(tok(i + 1)), eq(tok(i + 2), ".") {
                var k = i + 3
                while k + 2 < n {
                    if tok(k + 1).count == 1 && pyIsAlpha(tok(k + 1)) && eq(tok(k + 2), ".") { k += 2 } else { break }
                }
                output[output.count - 1] += input[i..<k].joined()
                i = k
            } else if eq(t, "-") {
                if i < n - 1 && eq(tok(i + 1), "-") {
                    output.append(["-", "-"]); i += 2
                } else if i == n - 1 || i == 0 {
                    output.append(["-"]); i += 1
                } else if !isPunctuationSubstring(output[output.count - 1]) && !isPunctuation(tok(i + 1)[0]) {
                    output[output.count - 1].append("-"); i += 1
                    flagPrevDash = true
                } else {
                    output.append(["-"]); i += 1
                }
            } else if prevDash, !output.isEmpty, !isPunctuation(t[0]) {
                output[output.count - 1] += t; i += 1
            } else {
                output.append(t); i += 1
            }
            prevDash = flagPrevDash
        }
        return output.map(py).joined(separator: " ")
    }

    // MARK: Python str semantics (code points, Python's notion of whitespace/digit/letter)

    static let punctuation = Array("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool { punctuation.contains(s) }

    /// `token in string.punctuation` — a SUBSTRING test in Python (`"()"` counts as punctuation).
    static func isPunctuationSubstring(_ t: [Unicode.Scalar]) -> Bool {
        if t.isEmpty { return true }
        guard t.count <= punctuation.count else { return false }
        for start in 0...(punctuation.count - t.count) where punctuation[start..<(start + t.count)].elementsEqual(t) { return true }
        return false
    }

    /// `str.isdigit()`: non-empty, every code point of Numeric_Type Decimal or Digit.
    static func pyIsDigit(_ t: [Unicode.Scalar]) -> Bool { !t.isEmpty && t.allSatisfy(isDigitScalar) }

    static func isDigitScalar(_ s: Unicode.Scalar) -> Bool {
        s.properties.numericType == .decimal || s.properties.numericType == .digit
    }

    /// The original's `_is_digit`: every character a digit or `,` (true for the empty string).
    static func isDigitOrComma(_ t: [Unicode.Scalar]) -> Bool { t.allSatisfy { $0 == "," || isDigitScalar($0) } }

    /// `str.isalpha()`: non-empty, every code point of category Lu, Ll, Lt, Lm or Lo.
    static func pyIsAlpha(_ t: [Unicode.Scalar]) -> Bool {
        !t.isEmpty && t.allSatisfy {
            switch $0.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
    }

    /// `str.isspace()` for one code point: Unicode White_Space plus U+001C…U+001F (Python counts the
    /// information separators, whose bidi class is B or S).
    static func pyIsSpace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace || (0x1C...0x1F).contains(s.value) }

    static func py(_ scalars: some Sequence<Unicode.Scalar>) -> String {
        var v = String.UnicodeScalarView(); v.append(contentsOf: scalars); return String(v)
    }

    /// `str.split()` with no argument.
    static func pyWords(_ text: String) -> [String] {
        text.unicodeScalars.split(whereSeparator: pyIsSpace).map(py)
    }

    /// `str.strip()` with no argument.
    static func pyStrip(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        guard let first = s.firstIndex(where: { !pyIsSpace($0) }), let last = s.lastIndex(where: { !pyIsSpace($0) }) else { return "" }
        return py(s[first...last])
    }

    /// `str.split(sep)`: exact code-point matches, empty pieces kept.
    static func pySplit(_ text: String, on separator: String) -> [String] {
        let s = Array(text.unicodeScalars), sep = Array(separator.unicodeScalars)
        var pieces: [String] = [], start = 0, k = 0
        while k + sep.count <= s.count {
            if s[k..<(k + sep.count)].elementsEqual(sep) { pieces.append(py(s[start..<k])); k += sep.count; start = k } else { k += 1 }
        }
        pieces.append(py(s[start...]))
        return pieces
    }

    /// `str.replace(old, new)`.
    static func pyReplace(_ text: String, _ old: String, _ new: String) -> String {
        pySplit(text, on: old).joined(separator: new)
    }
}
