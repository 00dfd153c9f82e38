// The small view of a tokenizer that data preparation and sample construction need.
//
// WHY a protocol of our own: the data code must not care which tokenizer family produced the ids; it
// needs the command-token ids of the blank-infilling layout, `encode`, and the original's `IdToToken`
// (sentence ends are decided on token *strings*). Anything that can answer these can prepare data.

/// Ids of the GLM command tokens used by the blank-infilling objective.
///
/// `sMask`/`gMask` exist only for tokenizers built with `--task-mask`; `dBlock` only with
/// `add_decoder_mask` (needed by `--block-mask-prob` / `--context-mask-ratio`).
public struct CommandTokenIDs: Codable, Sendable, Equatable {
    public var enc: Int32
    public var mask: Int32
    public var sMask: Int32?
    public var gMask: Int32?
    public var sop: Int32
    public var eop: Int32
    /// End of document (`args.eod_token` of the original); equals `pad` for every published tokenizer.
    public var eos: Int32
    public var pad: Int32
    public var dBlock: Int32?

    public init(enc: Int32, mask: Int32, sMask: Int32? = nil, gMask: Int32? = nil, sop: Int32, eop: Int32,
                eos: Int32, pad: Int32, dBlock: Int32? = nil) {
        self.enc = enc; self.mask = mask; self.sMask = sMask; self.gMask = gMask
        self.sop = sop; self.eop = eop; self.eos = eos; self.pad = pad; self.dBlock = dBlock
    }

    /// The BERT WordPiece tokenizer of GLM-Base/Large (fixtures README, section 1).
    public static let bertWordPiece = CommandTokenIDs(enc: 101, mask: 103, sop: 30522, eop: 30523, eos: 0, pad: 0)
}

/// What data preparation needs from a tokenizer.
public protocol DataTokenizer {
    /// Token ids of a document's text, as the original `EncodeAsIds(text).tokenization`.
    func encodeIDs(_ text: String) -> [Int]
    /// The original's `IdToToken(id)`; nil for ids outside the vocabulary.
    func tokenString(forID id: Int) -> String?
    /// Number of token ids (text tokens + command tokens); every id is `< tokenCount`.
    var tokenCount: Int { get }
    var commandTokenIDs: CommandTokenIDs { get }
}

/// Sentence-end decisions of the original, made on token strings.
///
/// The original has two slightly different tests: `ConstructBlockStrategy.contains_sentence_end`
/// (used for [sMASK] sentence spans and `split_samples`) also knows the CJK marks 。？！；…, while
/// `BlockDataset.contains_sentence_end` (used when cutting documents to the sequence length) does not.
/// Both are stored per token in a prepared dataset, as bits of one flag byte.
public enum SentenceEnd {
    /// Bit set when the token ends a sentence for span construction (ConstructBlockStrategy rule).
    public static let spanBit: UInt8 = 1
    /// Bit set when the token ends a sentence for window cutting (BlockDataset rule).
    public static let windowBit: UInt8 = 2

    /// The flag byte of one token string.
    public static func flags(forToken token: String) -> UInt8 {
        var flags: UInt8 = 0
        // Unicode scalars, not Characters: "\r\n" is one Character but the original tests for "\n".
        for scalar in token.unicodeScalars {
            switch scalar {
            case ".", "?", "!", ";", ":", "\n": flags |= spanBit | windowBit
            case "。", "？", "！", "；", "…": flags |= spanBit
            default: break
            }
        }
        return flags
    }

    /// Flag bytes for every id of a tokenizer (index = id); computed once per preparation.
    public static func table(for tokenizer: some DataTokenizer) -> [UInt8] {
        (0..<tokenizer.tokenCount).map { id in tokenizer.tokenString(forID: id).map(flags(forToken:)) ?? 0 }
    }
}
