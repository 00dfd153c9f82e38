/// ReCoRD's exact match and token F1, the original's `tasks/superglue/evaluate.py` (`normalize_answer`,
/// `exact_match_score`, `f1_score`, `metric_max_over_ground_truths`, `qa_evaluate`).
public enum ReCoRDMetrics {
    /// Python's `string.punctuation`.
    static let punctuation = Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars)

    /// Lower case, `unidecode` (see `Unidecode` for the coverage), remove ASCII punctuation, replace
    /// the words `a`, `an`, `the` by a space (`\b(a|an|the)\b`), and join the whitespace-split words
    /// with single spaces.
    public static func normalizeAnswer(_ s: String) -> String {
        let lowered = Unidecode.transliterate(s.lowercased())
        var text = String.UnicodeScalarView()
        for u in lowered.unicodeScalars where !punctuation.contains(u) { text.append(u) }
        return words(removingArticles(text)).map { String(String.UnicodeScalarView($0)) }.joined(separator: " ")
    }

    /// Normalised answer tokens as scalar arrays (compared by code point, as Python compares strings).
    static func tokens(_ s: String) -> [[Unicode.Scalar]] {
        let n = normalizeAnswer(s)
        return n.isEmpty ? [] : n.split(separator: " ", omittingEmptySubsequences: true).map { Array($0.unicodeScalars) }
    }

    /// Python regex word characters (`\w` on str): Unicode letters and digits, and `_`.
    static func isWord(_ u: Unicode.Scalar) -> Bool {
        if u == "_" || u.properties.numericType != nil { return true }
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `re.sub(r'\b(a|an|the)\b', ' ', text)`: a maximal run of word characters equal to an article.
    static func removingArticles(_ text: String.UnicodeScalarView) -> [Unicode.Scalar] {
        let scalars = Array(text)
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < scalars.count {
            guard isWord(scalars[i]) else { out.append(scalars[i]); i += 1; continue }
            var j = i
            while j < scalars.count && isWord(scalars[j]) { j += 1 }
            let word = String(String.UnicodeScalarView(scalars[i..<j]))
            if word == "a" || word == "an" || word == "the" { out.append(" ") } else { out += scalars[i..<j] }
            i = j
        }
        return out
    }

    /// Python's `str.split()`: runs of whitespace (Unicode `isspace`, incl. U+001C–U+001F) separate words.
    static func words(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var out: [[Unicode.Scalar]] = [], current: [Unicode.Scalar] = []
        for u in scalars {
            if u.properties.isWhitespace || (0x1C...0x1F).contains(u.value) {
                if !current.isEmpty { out.append(current); current = [] }
            } else {
                current.append(u)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    public static func exactMatch(prediction: String, groundTruth: String) -> Bool {
        Array(normalizeAnswer(prediction).unicodeScalars) == Array(normalizeAnswer(groundTruth).unicodeScalars)
    }

    /// Token F1 of the normalised answers (bag of words); 0 when no token is shared.
    public static func f1(prediction: String, groundTruth: String) -> Double {
        let p = tokens(prediction), g = tokens(groundTruth)
        var counts: [[Unicode.Scalar]: Int] = [:]
        for t in g { counts[t, default: 0] += 1 }
        var same = 0
        for t in p where (counts[t] ?? 0) > 0 { counts[t]! -= 1; same += 1 }
        guard same > 0 else { return 0 }
        let precision = 1.0 * Double(same) / Double(p.count)
        let recall = 1.0 * Double(same) / Double(g.count)
        return (2 * precision * recall) / (precision + recall)
    }

    /// The best score of `prediction` over the gold answers (0 when there are none).
    public static func maxOverGroundTruths(_ metric: (String, String) -> Double, prediction: String, groundTruths: [String]) -> Double {
        groundTruths.map { metric(prediction, $0) }.max() ?? 0
    }

    /// `qa_exact_match` / `qa_f1`: 100 × the mean over examples of the best score of the predicted
    /// candidate (`candidates[prediction]`) against the example's answers.
    public static func evaluate(predictions: [Int], candidates: [[String]], answers: [[String]],
                                metric: (String, String) -> Double) -> Double {
        precondition(predictions.count == candidates.count && candidates.count == answers.count, "one prediction per example")
        var score = 0.0
        for (p, (cands, golds)) in zip(predictions, zip(candidates, answers)) where !golds.isEmpty {
            precondition(cands.indices.contains(p), "prediction \(p) is not one of \(cands.count) candidates")
            score += maxOverGroundTruths(metric, prediction: cands[p], groundTruths: golds)
        }
        return 100.0 * score / Double(predictions.count)
    }

    public static func exactMatch(predictions: [Int], candidates: [[String]], answers: [[String]]) -> Double {
        evaluate(predictions: predictions, candidates: candidates, answers: answers) { exactMatch(prediction: $0, groundTruth: $1) ? 1 : 0 }
    }

    public static func f1(predictions: [Int], candidates: [[String]], answers: [[String]]) -> Double {
        evaluate(predictions: predictions, candidates: candidates, answers: answers) { f1(prediction: $0, groundTruth: $1) }
    }
}
