import GLMTokenizers

/// Turns a blank's tokens, one at a time, into text pieces that concatenate to the blank's text:
/// each push returns what is new in `decode(ids so far)` beyond what was already returned, holding back
/// a trailing U+FFFD (a multi-byte character still incomplete). `finish` returns whatever the final
/// decode adds (e.g. a held-back character that turned out to be a real U+FFFD). The pieces concatenate to
/// `tokenizer.decode(ids)` whenever decoding is prefix-stable, which GLM's tokenizers are.
public struct IncrementalDetokenizer {
    public let tokenizer: any Tokenizer
    public private(set) var ids: [Int] = []
    /// The text returned so far.
    public private(set) var emitted = ""

    public init(tokenizer: any Tokenizer) { self.tokenizer = tokenizer }

    /// Adds one token; returns the new text ("" while a character is incomplete).
    public mutating func push(_ id: Int) -> String {
        ids.append(id)
        var stable = Substring(tokenizer.decode(ids))
        while stable.hasSuffix("\u{FFFD}") { stable = stable.dropLast() }
        return take(stable)
    }

    /// The rest of the blank's text after its last token.
    public mutating func finish() -> String { take(Substring(tokenizer.decode(ids))) }

    private mutating func take(_ text: Substring) -> String {
        guard text.hasPrefix(emitted) else { return "" }
        let delta = String(text.dropFirst(emitted.count))
        emitted = String(text)
        return delta
    }
}
