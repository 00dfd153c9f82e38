/// The blank task's random word masking (`BlankLMDataset.mask_text`).
public enum BlankMasking {
    /// Masked text and the words it lost.
    public struct Masked: Sendable, Equatable {
        /// The text with every run of masked words replaced by one `[MASK]`: `" " + word` per kept word or
        /// run (so it starts with a space).
        public var source: String
        /// One entry per run of consecutive masked words, in text order: `" " + word` per word.
        public var spans: [String]

        public init(source: String, spans: [String]) {
            self.source = source
            self.spans = spans
        }
    }

    /// Splits `text` on whitespace (`str.split()`), draws `int(n * ratio)` distinct word indices with
    /// `random.sample(range(n), k)`, sorts them and masks those words; consecutive masked words (and a
    /// literal `[MASK]` word next to a masked one) collapse into one `[MASK]`.
    public static func mask(_ text: String, ratio: Double, random: inout PythonRandom) -> Masked {
        var words = PythonText.splitWhitespace(text)
        let n = words.count
        let indices = random.sample(0..<n, Int(Double(n) * ratio)).sorted()
        var spans: [String] = []
        for (i, index) in indices.enumerated() {
            if i == 0 || index != indices[i - 1] + 1 { spans.append("") }
            spans[spans.count - 1] += " " + words[index]
            words[index] = maskWord
        }
        var source = ""
        for (i, w) in words.enumerated() {
            if i != 0 && isMask(w) && isMask(words[i - 1]) { continue }
            source += " " + w
        }
        return Masked(source: source, spans: spans)
    }

    static let maskWord = "[MASK]"

    static func isMask(_ w: String) -> Bool { w.unicodeScalars.elementsEqual(maskWord.unicodeScalars) }
}
