/// The Porter stemmer exactly as NLTK's `nltk.stem.porter.PorterStemmer()` in its default
/// `NLTK_EXTENSIONS` mode — the stemmer rouge-score 0.1.2 builds for `use_stemmer=True`.
///
/// NLTK departs from Porter's 1980 paper in ways that change ROUGE numbers, and all of them are kept:
/// - a table of irregular forms is looked up first (`dying` → `die`, `skies` → `sky`, `news`, `proceed`, …);
/// - words of at most 2 characters are returned unchanged (lower-cased);
/// - step 1a: a 4-letter word in `-ies` becomes `-ie` (`dies` → `die`, but `flies` → `fli`);
/// - step 1b: `-ied` → `-ie` for 4-letter words, else `-i`, before the `eed/ed/ing` rules;
/// - step 1c: `y` → `i` only after a consonant that is not the whole stem (`happy` → `happi`, `enjoy` stays);
/// - step 2: `-alli` → `-al` is tried first and step 2 re-run on the result; `-bli` → `-ble` (not `-abli`);
///   extra rules `-fulli` → `-ful` and `-logi` → `-log` (whose condition is measured on the stem *with* its `l`);
/// - condition *o also holds for a 2-letter vowel–consonant stem.
/// Python indexes strings by code point, so the word is handled as an array of Unicode scalars.
public struct PorterStemmer: Sendable {
    public init() {}

    typealias Word = [UInt32]

    /// NLTK's `irregular_forms`, inverted (form → stem).
    static let pool: [Word: Word] = {
        let forms: [(String, [String])] = [
            ("sky", ["sky", "skies"]), ("die", ["dying"]), ("lie", ["lying"]), ("tie", ["tying"]),
            ("news", ["news"]), ("inning", ["innings", "inning"]), ("outing", ["outings", "outing"]),
            ("canning", ["cannings", "canning"]), ("howe", ["howe"]), ("proceed", ["proceed"]),
            ("exceed", ["exceed"]), ("succeed", ["succeed"]),
        ]
        var pool: [Word: Word] = [:]
        for (stem, values) in forms { for v in values { pool[w(v)] = w(stem) } }
        return pool
    }()

    static func w(_ s: String) -> Word { s.unicodeScalars.map(\.value) }

    /// `PorterStemmer.stem(word)` (`to_lowercase=True`).
    public func stem(_ word: String) -> String {
        let original = Self.w(word)
        let lowered = Self.w(word.lowercased())
        var s: Word
        if let irregular = Self.pool[lowered] { s = irregular }
        else if original.count <= 2 { s = lowered }  // NLTK tests the length of the word *before* lower-casing
        else {
            s = Self.step1a(lowered)
            s = Self.step1b(s)
            s = Self.step1c(s)
            s = Self.step2(s)
            s = Self.step3(s)
            s = Self.step4(s)
            s = Self.step5a(s)
            s = Self.step5b(s)
        }
        var out = String.UnicodeScalarView()
        for v in s { out.append(Unicode.Scalar(v)!) }
        return String(out)
    }

    // MARK: consonants and measure

    static let a = UInt32(UInt8(ascii: "a")), e = UInt32(UInt8(ascii: "e")), i = UInt32(UInt8(ascii: "i"))
    static let o = UInt32(UInt8(ascii: "o")), u = UInt32(UInt8(ascii: "u")), y = UInt32(UInt8(ascii: "y"))

    static func isVowelLetter(_ c: UInt32) -> Bool { c == a || c == e || c == i || c == o || c == u }

    /// Consonant flags of every position: `y` is a consonant at the start or after a vowel.
    static func consonantFlags(_ word: Word) -> [Bool] {
        var flags = [Bool]()
        flags.reserveCapacity(word.count)
        for (k, c) in word.enumerated() {
            if isVowelLetter(c) { flags.append(false) }
            else if c == y { flags.append(k == 0 ? true : !flags[k - 1]) }
            else { flags.append(true) }
        }
        return flags
    }

    static func isConsonant(_ word: Word, _ k: Int) -> Bool { consonantFlags(Array(word[...k]))[k] }

    /// m in [C](VC)^m[V]: the number of vowel→consonant transitions.
    static func measure(_ stem: Word) -> Int {
        let f = consonantFlags(stem)
        var m = 0
        for k in f.indices.dropFirst() where !f[k - 1] && f[k] { m += 1 }
        return m
    }

    static func containsVowel(_ stem: Word) -> Bool { consonantFlags(stem).contains(false) }

    static func endsDoubleConsonant(_ word: Word) -> Bool {
        word.count >= 2 && word[word.count - 1] == word[word.count - 2] && isConsonant(word, word.count - 1)
    }

    /// Condition *o: consonant–vowel–consonant, the last not `w`, `x`, `y`; NLTK: or a 2-letter vowel–consonant word.
    static func endsCVC(_ word: Word) -> Bool {
        let n = word.count
        if n >= 3 {
            let f = consonantFlags(word)
            let last = word[n - 1]
            if f[n - 3] && !f[n - 2] && f[n - 1] && last != UInt32(UInt8(ascii: "w")) && last != UInt32(UInt8(ascii: "x")) && last != y {
                return true
            }
        }
        if n == 2 {
            let f = consonantFlags(word)
            return !f[0] && f[1]
        }
        return false
    }

    static func hasSuffix(_ word: Word, _ suffix: Word) -> Bool {
        word.count >= suffix.count && word[(word.count - suffix.count)...].elementsEqual(suffix)
    }

    static func dropping(_ word: Word, _ n: Int) -> Word { Array(word[..<(word.count - n)]) }

    // MARK: rule lists

    enum Suffix { case text(Word), doubleConsonant }

    struct Rule {
        var suffix: Suffix
        var replacement: Word
        var condition: ((Word) -> Bool)?
        init(_ suffix: String, _ replacement: String, _ condition: ((Word) -> Bool)? = nil) {
            self.suffix = .text(PorterStemmer.w(suffix)); self.replacement = PorterStemmer.w(replacement); self.condition = condition
        }
        init(doubleConsonant replacement: Word, _ condition: ((Word) -> Bool)?) {
            suffix = .doubleConsonant; self.replacement = replacement; self.condition = condition
        }
    }

    /// NLTK's `_apply_rule_list`: the FIRST rule whose suffix matches decides; if its condition fails the
    /// word is returned unchanged and no later rule is tried.
    static func apply(_ word: Word, _ rules: [Rule]) -> Word {
        for rule in rules {
            switch rule.suffix {
            case .doubleConsonant:
                if endsDoubleConsonant(word) {
                    let stem = dropping(word, 2)
                    return (rule.condition?(stem) ?? true) ? stem + rule.replacement : word
                }
            case .text(let suffix):
                if hasSuffix(word, suffix) {
                    let stem = dropping(word, suffix.count)
                    return (rule.condition?(stem) ?? true) ? stem + rule.replacement : word
                }
            }
        }
        return word
    }

    static func positive(_ stem: Word) -> Bool { measure(stem) > 0 }
    static func greaterThanOne(_ stem: Word) -> Bool { measure(stem) > 1 }

    // MARK: steps

    static func step1a(_ word: Word) -> Word {
        if hasSuffix(word, w("ies")) && word.count == 4 { return dropping(word, 3) + w("ie") }
        return apply(word, [Rule("sses", "ss"), Rule("ies", "i"), Rule("ss", "ss"), Rule("s", "")])
    }

    static func step1b(_ word: Word) -> Word {
        if hasSuffix(word, w("ied")) { return dropping(word, 3) + w(word.count == 4 ? "ie" : "i") }
        if hasSuffix(word, w("eed")) {
            let stem = dropping(word, 3)
            return measure(stem) > 0 ? stem + w("ee") : word
        }
        var intermediate: Word?
        for suffix in ["ed", "ing"] where hasSuffix(word, w(suffix)) {
            let stem = dropping(word, suffix.count)
            if containsVowel(stem) { intermediate = stem; break }
        }
        guard let stem = intermediate else { return word }
        let last = stem[stem.count - 1]  // non-empty: it contains a vowel
        let lsz = [w("l"), w("s"), w("z")].map { $0[0] }
        return apply(stem, [
            Rule("at", "ate"), Rule("bl", "ble"), Rule("iz", "ize"),
            Rule(doubleConsonant: [last], { _ in !lsz.contains(last) }),
            Rule("", "e", { measure($0) == 1 && endsCVC($0) }),
        ])
    }

    static func step1c(_ word: Word) -> Word {
        apply(word, [Rule("y", "i", { $0.count > 1 && isConsonant($0, $0.count - 1) })])
    }

    static func step2(_ word: Word) -> Word {
        if hasSuffix(word, w("alli")) && measure(dropping(word, 4)) > 0 {
            return step2(dropping(word, 4) + w("al"))
        }
        let withL = dropping(word, min(3, word.count))
        return apply(word, [
            Rule("ational", "ate", positive), Rule("tional", "tion", positive), Rule("enci", "ence", positive),
            Rule("anci", "ance", positive), Rule("izer", "ize", positive), Rule("bli", "ble", positive),
            Rule("alli", "al", positive), Rule("entli", "ent", positive), Rule("eli", "e", positive),
            Rule("ousli", "ous", positive), Rule("ization", "ize", positive), Rule("ation", "ate", positive),
            Rule("ator", "ate", positive), Rule("alism", "al", positive), Rule("iveness", "ive", positive),
            Rule("fulness", "ful", positive), Rule("ousness", "ous", positive), Rule("aliti", "al", positive),
            Rule("iviti", "ive", positive), Rule("biliti", "ble", positive), Rule("fulli", "ful", positive),
            Rule("logi", "log", { _ in measure(withL) > 0 }),
        ])
    }

    static func step3(_ word: Word) -> Word {
        apply(word, [
            Rule("icate", "ic", positive), Rule("ative", "", positive), Rule("alize", "al", positive),
            Rule("iciti", "ic", positive), Rule("ical", "ic", positive), Rule("ful", "", positive),
            Rule("ness", "", positive),
        ])
    }

    static func step4(_ word: Word) -> Word {
        let st = [w("s")[0], w("t")[0]]
        let gt1 = greaterThanOne
        return apply(word, [
            Rule("al", "", gt1), Rule("ance", "", gt1), Rule("ence", "", gt1), Rule("er", "", gt1),
            Rule("ic", "", gt1), Rule("able", "", gt1), Rule("ible", "", gt1), Rule("ant", "", gt1),
            Rule("ement", "", gt1), Rule("ment", "", gt1), Rule("ent", "", gt1),
            Rule("ion", "", { measure($0) > 1 && st.contains($0[$0.count - 1]) }),
            Rule("ou", "", gt1), Rule("ism", "", gt1), Rule("ate", "", gt1), Rule("iti", "", gt1),
            Rule("ous", "", gt1), Rule("ive", "", gt1), Rule("ize", "", gt1),
        ])
    }

    /// Both rules are tried here (NLTK cannot use its rule list: `(m>1) E` and `(m=1 and not *o) E`).
    static func step5a(_ word: Word) -> Word {
        guard hasSuffix(word, w("e")) else { return word }
        let stem = dropping(word, 1)
        let m = measure(stem)
        if m > 1 || (m == 1 && !endsCVC(stem)) { return stem }
        return word
    }

    static func step5b(_ word: Word) -> Word {
        apply(word, [Rule("ll", "l", { _ in measure(dropping(word, 1)) > 1 })])
    }
}
