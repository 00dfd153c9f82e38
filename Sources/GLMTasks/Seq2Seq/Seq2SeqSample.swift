/// How a seq2seq sample's positions may attend.
public enum Seq2SeqAttention: Sendable, Equatable {
    /// The original's scalar `attention_mask` (`sep`): positions below it attend to each other both ways,
    /// later ones causally. The source padding lies below `sep`, so it IS attended.
    case sep(Int)
    /// `--mask-pad-token` (customization): the original's `[1, L, L]` mask without its leading 1,
    /// `[query][key]`, 1 where the query may attend the key.
    case explicit([[Int]])

    /// `sep`, or nil for an explicit mask.
    public var sep: Int? {
        if case .sep(let s) = self { return s }
        return nil
    }
}

/// One sample of a seq2seq dataset: the dict the original's `__getitem__` returns.
///
/// Training samples (`text`, `target`, `attention_mask`, `loss_mask`, `position_id`, `uid`):
/// `source (padded) + sop + target[:-1]`, targets `0...0 target`, loss on the real target tokens.
/// Evaluation samples (`text`, `attention_mask`, `position_id`, `uid`): `source (padded) + sop`, whose
/// last position sits at the mask position with block position 1; no targets.
public struct Seq2SeqSample: Sendable, Equatable {
    /// `text`: token ids.
    public var ids: [Int]
    /// `target`: at position t the id position t must predict; nil for evaluation samples.
    public var targets: [Int]?
    /// `attention_mask`.
    public var attention: Seq2SeqAttention
    /// `loss_mask`: 1 where the target is scored; nil for evaluation samples.
    public var lossMask: [Int]?
    /// `position_id`: [2][length], positions then block positions.
    public var positions: [[Int]]
    /// `uid`: the example's guid.
    public var uid: String

    public init(ids: [Int], targets: [Int]?, attention: Seq2SeqAttention, lossMask: [Int]?, positions: [[Int]], uid: String) {
        self.ids = ids
        self.targets = targets
        self.attention = attention
        self.lossMask = lossMask
        self.positions = positions
        self.uid = uid
    }

    /// Whether this is an evaluation sample (no targets).
    public var isEvaluation: Bool { targets == nil }
}
