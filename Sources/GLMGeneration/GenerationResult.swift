/// One filled blank of a prompt.
public struct FilledBlank: Sendable, Equatable {
    /// Index of the mask token in `contextIds`.
    public var maskPosition: Int
    /// The generated ids, without `sop` and without the end token.
    public var ids: [Int]
    /// `DecodeIds(ids)`.
    public var text: String
    public var stop: BlankStop
    public var endToken: Int?
}

/// Everything generation produced for one prompt.
public struct GenerationResult: Sendable, Equatable {
    /// The prompt as given.
    public var prompt: String
    /// The prompt after the original's processing (` [MASK]` / ` [gMASK]` appended when it had no mask).
    public var rawText: String
    /// [ENC] + EncodeAsIds(rawText) (+ eos unless it ends with [gMASK]).
    public var contextIds: [Int]
    /// One per mask position, in increasing position (empty when the prompt has no mask the model knows).
    public var blanks: [FilledBlank]
    /// The final token sequence as the original builds it: context, then for each blank `sop` + its ids.
    public var ids: [Int]
    /// The original's printed output: `DecodeIds(ids[contextIds.count...])` (`<|startofpiece|> …` pieces).
    public var output: String
    /// The context with each mask replaced by its blank's ids (still with [ENC] and the appended eos).
    public var filledIds: [Int]
    /// The filled-in text: `filledIds` without [ENC] and the appended eos, decoded.
    public var text: String
    /// Set when nothing could be generated, saying why (e.g. a mask token the tokenizer lacks).
    public var warning: String?
}

/// What a streaming generation reports, in order.
public enum GenerationEvent: Sendable, Equatable {
    /// A token was generated. `text` is the new part of the blank's decoded text (may be empty while a
    /// multi-byte character is incomplete); prompt is the index in the batch (0 for one prompt).
    case token(prompt: Int, blank: Int, id: Int, text: String)
    /// A blank is complete.
    case blankFinished(prompt: Int, index: Int, blank: FilledBlank)
    /// A prompt is complete.
    case finished(prompt: Int, result: GenerationResult)
}
