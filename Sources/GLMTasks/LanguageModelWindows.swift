import GLMTokenizers

/// One window of a document, in the original's dataset order (documents in file order, windows in order).
public struct LanguageModelWindow: Sendable, Equatable {
    public var document: Int
    public var index: Int
    public var sample: LanguageModelSample

    public init(document: Int, index: Int, sample: LanguageModelSample) {
        self.document = document
        self.index = index
        self.sample = sample
    }
}

/// Cuts token documents into the overlapping windows of the original's `LMDataset` (perplexity on
/// `wikitext` and `language_model`).
///
/// With `maxSeqLen = seqLength - 1`, window k covers tokens `[k*overlap, k*overlap + maxSeqLen)`; a document
/// has `max(ceil(max(len - maxSeqLen, 0) / overlap) + 1, 1)` windows. Window 0 (every window when
/// unidirectional) is `[CLS] first_token [MASK] sop rest[:-1]`, scoring every token but the first. Later
/// bidirectional windows put the first `maxSeqLen - overlap` tokens (already scored) in part A and score
/// the rest. Part A has no eos (`add_eos=False`), so samples are `seqLength + 1` long.
///
/// Quirk reproduced: later UNIDIRECTIONAL windows keep the loss only on the last `overlap` entries of the
/// PADDED sample, so a short last window scores fewer than its new tokens (the padding takes the rest)
/// and those tokens are scored by no window.
public struct LanguageModelWindows: Sendable {
    public let seqLength: Int
    public let overlap: Int
    public let unidirectional: Bool
    let tokens: LanguageModelTokens

    public var maxSeqLen: Int { seqLength - 1 }

    /// `overlap` nil means `seqLength - 1` (no overlap), as the original's missing `--overlapping-eval`;
    /// values below 1 become 1 (the original's `max(1, overlapping_eval)`). Overlaps above `seqLength - 1`
    /// are refused: the original then slices with negative indices and skips tokens.
    public init(tokenizer: any Tokenizer, seqLength: Int, overlap: Int? = nil, unidirectional: Bool = false, taskMask: Bool = false) throws {
        guard seqLength >= 3 else { throw LanguageModelError.input("sequence length \(seqLength) is too short (at least 3)") }
        let o = max(1, overlap ?? seqLength - 1)
        guard o <= seqLength - 1 else {
            throw LanguageModelError.input("overlapping eval \(o) exceeds seq length - 1 = \(seqLength - 1)")
        }
        self.seqLength = seqLength
        self.overlap = o
        self.unidirectional = unidirectional
        self.tokens = try LanguageModelTokens(tokenizer, taskMask: taskMask)
    }

    /// Number of windows of a document of `length` tokens (`LMDataset.num_sequences`).
    public func count(documentLength length: Int) -> Int {
        let target = max(length - maxSeqLen, 0)
        return max((target + overlap - 1) / overlap + 1, 1)
    }

    /// Window `k` of a document. Documents of fewer than 2 tokens have nothing to score; the original
    /// builds a malformed sample for them (its `target` is one shorter than `text`) and crashes.
    public func window(_ document: [Int], index k: Int) throws -> LanguageModelSample {
        guard document.count >= 2 else {
            throw LanguageModelError.input("a document of \(document.count) token(s) has nothing to score (the original crashes on it)")
        }
        precondition(k >= 0 && k < count(documentLength: document.count), "window \(k) out of range")
        let start = k * overlap
        let w = Array(document[start..<min(start + maxSeqLen, document.count)])
        let split = (k == 0 || unidirectional) ? 1 : maxSeqLen - overlap
        let partA = Array(w.prefix(split)) + [tokens.mask], text = Array(w.dropFirst(split))
        var sample = try tokens.blockInput(partA: partA, answer: text, maxLength: maxSeqLen + 2, addEos: false)
        if k != 0 && unidirectional {
            for i in 0..<max(sample.lossMask.count - overlap, 0) { sample.lossMask[i] = 0 }
        }
        return sample
    }

    /// Every window of every document, in the original's order.
    public func windows(_ documents: [[Int]]) throws -> [LanguageModelWindow] {
        var out: [LanguageModelWindow] = []
        for (d, doc) in documents.enumerated() {
            for k in 0..<count(documentLength: doc.count) {
                do { out.append(LanguageModelWindow(document: d, index: k, sample: try window(doc, index: k))) } catch {
                    throw LanguageModelError.input("document \(d): \(error)")
                }
            }
        }
        return out
    }
}
