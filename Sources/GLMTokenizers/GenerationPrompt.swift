// How generate_samples.py (read_context and the mask search of generate_samples) turns a prompt into
// model input, for block-LM models (all GLM presets).

/// A prompt as the original feeds it to the model.
public struct GenerationPromptEncoding: Sendable, Equatable {
    /// The prompt after ' [gMASK]' / ' [MASK]' was appended where it had no 'MASK]'.
    public let rawText: String
    /// `EncodeAsIds(rawText)`.
    public let textIds: [Int]
    /// [ENC] + textIds (+ eos unless rawText ends with [gMASK]).
    public let contextIds: [Int]
    public let appendedEOS: Bool
    /// The mask ids searched (MASK, sMASK, gMASK with task masks; else MASK).
    public let maskTokenIds: [Int]
    /// Sorted positions in `contextIds` of the searched mask ids.
    public let maskPositions: [Int]
}

extension Tokenizer {
    /// The original's prompt processing: append the generation mask when the prompt has no
    /// 'MASK]', prepend [ENC], append eos unless the text ends with [gMASK], find the masks.
    public func encodeGenerationPrompt(_ prompt: String) -> GenerationPromptEncoding {
        var raw = prompt
        if !prompt.utf8.containsSubsequence(Array("MASK]".utf8)) {
            raw += " " + generationMask
        }
        let ids = encode(raw)
        var context = [commandToken(named: "ENC")].compactMap { $0 } + ids
        let endsWithGMask = raw.utf8.reversed().starts(with: Array("[gMASK]".utf8).reversed())
        if !endsWithGMask, let eos = commandToken(named: "eos") { context.append(eos) }
        let searched = maskTokenIds
        var positions: [Int] = []
        for m in searched {
            for (i, id) in context.enumerated() where id == m { positions.append(i) }
        }
        positions.sort()
        return GenerationPromptEncoding(rawText: raw, textIds: ids, contextIds: context, appendedEOS: !endsWithGMask,
                                        maskTokenIds: searched, maskPositions: positions)
    }
}

extension Sequence where Element == UInt8 {
    /// Whether the bytes contain `needle` contiguously.
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        let hay = Array(self)
        if needle.isEmpty { return true }
        if hay.count < needle.count { return false }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            if Array(hay[i..<(i + needle.count)]) == needle { return true }
        }
        return false
    }
}
