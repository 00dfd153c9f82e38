/// One SuperGLUE example encoded by a pattern-verbalizer pair, as the original's `PVP.encode` returns it
/// (`tasks/superglue/pvp.py`): the input the cloze models score and the training loss reads.
///
/// Why one type for both model kinds: the single-token cloze model (`GLMForSingleTokenCloze`) reads one
/// row and the verbalizer ids, the multi-token model (`GLMForMultiTokenCloze`) reads one row per choice
/// with targets and a logit mask; the encoders produce this, the scorers consume it, and nothing else
/// needs to know which PVP made it.
public struct ClozeSample: Sendable, Equatable {
    /// One input row: `[CLS] part A [eos] sop answer[:-1]`, padded to the sequence length.
    public struct Row: Sendable, Equatable {
        /// Token ids, [seq].
        public var ids: [Int]
        /// GLM's 2-D position ids: positions [seq] (answer tokens repeat the mask position) …
        public var positions: [Int]
        /// … and block positions [seq] (0 in part A, 1…n over the answer).
        public var blockPositions: [Int]
        /// Multi-token: the answer ids (incl. `eop`) shifted into place, [seq]; empty for single-token.
        public var targets: [Int]
        /// 1 where `targets` count in the summed log-probability, [seq] (the single-token model ignores it).
        public var logitMask: [Int]
        /// The original's `mask`: the length of part A including its final eos (the attention mask's `sep`);
        /// per row, because each choice is truncated with its own answer.
        public var sep: Int
        /// Continuous prompts (`--continuous-prompt`): the original's `prompt_pos`, the positions of the
        /// prompt tokens in order (their ids are 0); the prompt encoder's row k replaces the input embedding
        /// at `promptPositions[k]`. Empty without continuous prompts.
        public var promptPositions: [Int]

        public init(ids: [Int], positions: [Int], blockPositions: [Int], targets: [Int] = [], logitMask: [Int] = [], sep: Int,
                    promptPositions: [Int] = []) {
            self.ids = ids; self.positions = positions; self.blockPositions = blockPositions
            self.targets = targets; self.logitMask = logitMask; self.sep = sep; self.promptPositions = promptPositions
        }
    }

    /// Which cloze model scores the sample.
    public enum Kind: Sendable, Equatable {
        /// Raw logits of the `sop` position (index `rows[0].sep`) at these verbalizer ids, one per label.
        case singleToken(verbalizerIds: [Int])
        /// One row per choice; a choice's score is the masked sum of target log-probabilities.
        case multiToken
    }

    public var kind: Kind
    /// The rows: one for single-token tasks, one per choice for multi-token tasks.
    public var rows: [Row]
    /// Index of the correct label / choice (WSC train samples: 0).
    public var label: Int
    /// The example's guid as the original's `uid` (several samples may share one, e.g. WSC chunks).
    public var uid: String

    public init(kind: Kind, rows: [Row], label: Int, uid: String) {
        self.kind = kind; self.rows = rows; self.label = label; self.uid = uid
    }
}
