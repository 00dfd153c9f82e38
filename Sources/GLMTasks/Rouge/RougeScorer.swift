/// Precision, recall and F-measure of one ROUGE type (fractions in [0, 1]).
public struct RougeScore: Sendable, Equatable, Codable {
    public var precision: Double
    public var recall: Double
    public var fmeasure: Double

    public init(precision: Double, recall: Double, fmeasure: Double) {
        self.precision = precision; self.recall = recall; self.fmeasure = fmeasure
    }

    public static let zero = RougeScore(precision: 0, recall: 0, fmeasure: 0)

    /// rouge-score's `scoring.fmeasure`: `2 * p * r / (p + r)`, 0 when `p + r == 0` (same evaluation order).
    public init(precision: Double, recall: Double) {
        self.init(precision: precision, recall: recall,
                  fmeasure: precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0)
    }
}

/// The four ROUGE types rouge-score computes for `['rouge1', 'rouge2', 'rougeL', 'rougeLsum']`.
public struct RougeScores: Sendable, Equatable, Codable {
    public var rouge1: RougeScore
    public var rouge2: RougeScore
    public var rougeL: RougeScore
    public var rougeLsum: RougeScore

    public init(rouge1: RougeScore, rouge2: RougeScore, rougeL: RougeScore, rougeLsum: RougeScore) {
        self.rouge1 = rouge1; self.rouge2 = rouge2; self.rougeL = rougeL; self.rougeLsum = rougeLsum
    }

    public static let zero = RougeScores(rouge1: .zero, rouge2: .zero, rougeL: .zero, rougeLsum: .zero)

    /// Field-wise means, summed left to right then divided (Python's `sum(xs) / len(xs)`); zero when empty.
    public static func mean(_ all: [RougeScores]) -> RougeScores {
        guard !all.isEmpty else { return .zero }
        func m(_ key: KeyPath<RougeScores, RougeScore>) -> RougeScore {
            let n = Double(all.count)
            return RougeScore(precision: all.reduce(0.0) { $0 + $1[keyPath: key].precision } / n,
                              recall: all.reduce(0.0) { $0 + $1[keyPath: key].recall } / n,
                              fmeasure: all.reduce(0.0) { $0 + $1[keyPath: key].fmeasure } / n)
        }
        return RougeScores(rouge1: m(\.rouge1), rouge2: m(\.rouge2), rougeL: m(\.rougeL), rougeLsum: m(\.rougeLsum))
    }
}

/// Google's rouge-score 0.1.2 `RougeScorer(['rouge1', 'rouge2', 'rougeL', 'rougeLsum'], use_stemmer=True)`
/// (the default tokenizer, `split_summaries=False`), re-implemented number for number.
///
/// Tokenizer (`rouge_score/tokenize.py`): lower-case (full Unicode mapping, as Python's `str.lower`), every
/// run of characters outside `[a-z0-9]` becomes a space (so accented letters, CJK, punctuation and the
/// apostrophe of `n't` split words), split on whitespace, Porter-stem only tokens of MORE than 3
/// characters (`ran` stays `ran`, `runs` → `run`), drop empty tokens.
/// rougeN: clipped n-gram overlap over the target's n-grams, P = hits / max(#prediction n-grams, 1),
/// R = hits / max(#target n-grams, 1). rougeL: LCS of the whole token lists (0 when either is empty).
/// rougeLsum: the text is split on `"\n"` ONLY (no sentence splitter), empty sentences dropped, and the
/// summary-level union-LCS of ROUGE-1.5.5 with per-token clipping is computed; it is asymmetric in its
/// two arguments (the union is taken per target sentence), which matters for the original's swapped call.
public struct RougeScorer: Sendable {
    public var useStemmer: Bool
    let stemmer = PorterStemmer()

    public init(useStemmer: Bool = true) { self.useStemmer = useStemmer }

    /// `scorer.score(target, prediction)`: precision is measured on `prediction`, recall on `reference`.
    public func score(reference: String, prediction: String) -> RougeScores {
        let t = tokenize(reference), p = tokenize(prediction)
        let ts = sentences(reference).map(tokenize), ps = sentences(prediction).map(tokenize)
        return RougeScores(rouge1: Self.ngramScore(t, p, n: 1), rouge2: Self.ngramScore(t, p, n: 2),
                           rougeL: Self.lcsScore(t, p), rougeLsum: Self.summaryLevelLCS(ts, ps))
    }

    /// rouge-score's `tokenize.tokenize(text, stemmer)`.
    public func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = String.UnicodeScalarView()
        func flush() {
            guard !current.isEmpty else { return }
            let token = String(current)
            tokens.append(useStemmer && current.count > 3 ? stemmer.stem(token) : token)
            current = String.UnicodeScalarView()
        }
        for s in text.lowercased().unicodeScalars {
            if ("a"..."z").contains(s) || ("0"..."9").contains(s) { current.append(s) } else { flush() }
        }
        flush()
        return tokens
    }

    /// `text.split("\n")` without the empty pieces: only U+000A separates (a `"\r\n"` keeps its `\r`,
    /// which the tokenizer then drops).
    func sentences(_ text: String) -> [String] {
        text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: true).map { String(String.UnicodeScalarView($0)) }
    }

    static func ngrams(_ tokens: [String], _ n: Int) -> [ArraySlice<String>: Int] {
        var counts: [ArraySlice<String>: Int] = [:]
        if tokens.count >= n { for k in 0...(tokens.count - n) { counts[tokens[k..<(k + n)], default: 0] += 1 } }
        return counts
    }

    static func ngramScore(_ target: [String], _ prediction: [String], n: Int) -> RougeScore {
        let t = ngrams(target, n), p = ngrams(prediction, n)
        let hits = t.reduce(0) { $0 + min($1.value, p[$1.key] ?? 0) }
        let tc = t.values.reduce(0, +), pc = p.values.reduce(0, +)
        return RougeScore(precision: Double(hits) / Double(max(pc, 1)), recall: Double(hits) / Double(max(tc, 1)))
    }

    /// The DP table `t[i][j]` = LCS length of `ref[..<i]` and `can[..<j]`.
    static func lcsTable(_ ref: [String], _ can: [String]) -> [[Int]] {
        var t = Array(repeating: Array(repeating: 0, count: can.count + 1), count: ref.count + 1)
        if ref.isEmpty || can.isEmpty { return t }
        for i in 1...ref.count {
            for j in 1...can.count {
                t[i][j] = ref[i - 1] == can[j - 1] ? t[i - 1][j - 1] + 1 : max(t[i - 1][j], t[i][j - 1])
            }
        }
        return t
    }

    static func lcsScore(_ target: [String], _ prediction: [String]) -> RougeScore {
        guard !target.isEmpty, !prediction.isEmpty else { return .zero }
        let lcs = lcsTable(target, prediction)[target.count][prediction.count]
        return RougeScore(precision: Double(lcs) / Double(prediction.count), recall: Double(lcs) / Double(target.count))
    }

    /// rouge-score's `_backtrack_norec`: the indices into `ref` of ONE longest common subsequence — on a
    /// tie it moves up (drops a `ref` token) unless moving left is strictly better. Which LCS is chosen
    /// changes the union below, so the tie rule is reproduced.
    static func lcsIndices(_ ref: [String], _ can: [String]) -> [Int] {
        let t = lcsTable(ref, can)
        var i = ref.count, j = can.count
        var out: [Int] = []
        while i > 0 && j > 0 {
            if ref[i - 1] == can[j - 1] { out.append(i - 1); i -= 1; j -= 1 }
            else if t[i][j - 1] > t[i - 1][j] { j -= 1 }
            else { i -= 1 }
        }
        return out.reversed()
    }

    /// `_summary_level_lcs`: for each target sentence the union of its LCS positions with every prediction
    /// sentence; a hit is counted only while both texts still have that token left (ROUGE-1.5.5's clipping).
    static func summaryLevelLCS(_ refSentences: [[String]], _ canSentences: [[String]]) -> RougeScore {
        guard !refSentences.isEmpty, !canSentences.isEmpty else { return .zero }
        let m = refSentences.reduce(0) { $0 + $1.count }, n = canSentences.reduce(0) { $0 + $1.count }
        guard m > 0, n > 0 else { return .zero }
        var countsR: [String: Int] = [:], countsC: [String: Int] = [:]
        for s in refSentences { for tok in s { countsR[tok, default: 0] += 1 } }
        for s in canSentences { for tok in s { countsC[tok, default: 0] += 1 } }
        var hits = 0
        for r in refSentences {
            var union = Set<Int>()
            for c in canSentences { union.formUnion(lcsIndices(r, c)) }
            for k in union.sorted() {
                let tok = r[k]
                if countsC[tok, default: 0] > 0 && countsR[tok, default: 0] > 0 {
                    hits += 1; countsC[tok]! -= 1; countsR[tok]! -= 1
                }
            }
        }
        return RougeScore(precision: Double(hits) / Double(n), recall: Double(hits) / Double(m))
    }
}
