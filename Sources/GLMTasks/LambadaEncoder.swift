import GLMTokenizers

/// LAMBADA samples as the original's `tasks/language_model/dataset.py LambadaDataset` (strict mode,
/// `--task lambda`): the model must produce the passage's last word from the rest.
///
/// Strict split: the word is `text.split()[-1]` and the context `text[:text.rfind(word)].strip()`; the
/// word is tokenised as `" " + word` (so it may be several tokens, and WordPiece sees it as a new word).
///
/// Bidirectional: `[CLS] context [MASK] [eos] sop word[:-1]`, scored on the word tokens.
/// Unidirectional (`--unidirectional`, still `[MASK]` unless `taskMask`): part A is only
/// `[CLS] first_context_token [MASK] [eos]`; the rest of the context and the word form the piece, read left
/// to right, and only its last `word.count` positions are scored.
/// Too long inputs lose tokens from the FRONT of part A (the original's `left_shift`). Unidirectional part A
/// has just two tokens, so an input more than one token too long loses the `[MASK]` and the original
/// crashes (`assert mask_id in ids`); we throw instead.
public struct LambadaEncoder: Sendable {
    public let tokenizer: any Tokenizer
    public let seqLength: Int
    public let unidirectional: Bool
    let tokens: LanguageModelTokens

    public init(tokenizer: any Tokenizer, seqLength: Int = 512, unidirectional: Bool = false, taskMask: Bool = false) throws {
        guard seqLength >= 4 else { throw LanguageModelError.input("sequence length \(seqLength) is too short (at least 4)") }
        self.tokenizer = tokenizer
        self.seqLength = seqLength
        self.unidirectional = unidirectional
        self.tokens = try LanguageModelTokens(tokenizer, taskMask: taskMask)
    }

    /// The strict split: (context, last word); nil when the text has no word.
    public static func splitLastWord(_ text: String) -> (context: String, word: String)? {
        guard let word = PythonText.splitWhitespace(text).last else { return nil }
        // `text.rfind(word)` is the start of the last whitespace-separated word: a later match would
        // have to run into the trailing whitespace.
        let u = Array(text.unicodeScalars), w = Array(word.unicodeScalars)
        var start = u.count - w.count
        while start >= 0 && !u[start..<(start + w.count)].elementsEqual(w) { start -= 1 }
        return (PythonText.strip(PythonText.string(u[..<max(start, 0)])), word)
    }

    /// `LambadaDataset.get_tokens`: (context ids, last word ids).
    public func tokens(_ text: String) throws -> (context: [Int], word: [Int]) {
        guard let split = Self.splitLastWord(text) else {
            throw LanguageModelError.input("the text has no word (the original fails on `text.split()[-1]`)")
        }
        let w = tokenizer.encode(" " + split.word)
        guard !w.isEmpty else { throw LanguageModelError.input("the last word \"\(split.word)\" has no tokens") }
        return (tokenizer.encode(split.context), w)
    }

    public func encode(_ text: String) throws -> LanguageModelSample {
        let (c, w) = try tokens(text)
        return try encode(context: c, word: w)
    }

    /// `LambadaDataset.__getitem__` with `--block-lm`.
    public func encode(context: [Int], word: [Int]) throws -> LanguageModelSample {
        guard !word.isEmpty else { throw LanguageModelError.input("the last word has no tokens") }
        var partA: [Int], piece: [Int]
        if unidirectional {
            partA = Array(context.prefix(1)) + [tokens.mask]
            piece = Array(context.dropFirst()) + word
        } else {
            partA = context + [tokens.mask]
            piece = word
        }
        let leftShift = partA.count + piece.count + 2 - seqLength  // cls + eos (the piece brings its sop)
        if leftShift > 0 { partA = Array(partA.dropFirst(leftShift)) }
        guard partA.contains(tokens.mask) else {
            throw LanguageModelError.input("\(piece.count) piece tokens do not fit in \(seqLength) positions"
                + (unidirectional ? " (unidirectional inputs can only lose their first token; the original crashes)" : ""))
        }
        var sample = try tokens.blockInput(partA: partA, answer: piece, maxLength: seqLength, addEos: true)
        if unidirectional, let last = sample.lossMask.lastIndex(where: { $0 != 0 }) {
            for i in 0..<max(last + 1 - word.count, 0) { sample.lossMask[i] = 0 }
        }
        return sample
    }
}
