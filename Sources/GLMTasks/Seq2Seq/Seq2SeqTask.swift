import GLMTokenizers

/// The sequence-to-sequence tasks of the original's `tasks/seq2seq/` (`--task`).
public enum Seq2SeqTaskKind: String, Sendable, CaseIterable {
    /// CNN/DailyMail, raw text (`{split}.source/.target`, no detokenizer).
    case cnnDMOriginal = "cnn_dm_original"
    /// CNN/DailyMail, PTB-tokenised (`cnndm_detokenize`: `-LRB-`, `<S_SEP>`, ``` `` ```...).
    case cnnDM = "cnn_dm"
    /// XSum (`XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json` + `<id>.summary`).
    case xsum
    /// Gigaword (`gigaword_detokenize`: `UNK`, `-lrb-`, `&amp;`...).
    case gigaword
    /// Any `{split}.source/.target` pair without a prompt (`CustomizationDataset`).
    case customization
    /// Blank infilling on Yahoo Answers style text (`BlankLMDataset`, BERT only).
    case blank

    /// Summarization tasks: `Seq2SeqDataset` with the `" Content:"` prompt.
    public var isSummarization: Bool { self != .customization && self != .blank }
}

/// A dataset split: the original's `train` / `dev` / `test`.
public enum Seq2SeqSplit: String, Sendable, CaseIterable {
    case train, dev, test

    /// Whether the split's samples are training samples (targets, loss mask) rather than evaluation
    /// samples (source + sop): `train`, and for the blank task also `dev`.
    public func hasTargets(_ kind: Seq2SeqTaskKind) -> Bool { self == .train || (kind == .blank && self == .dev) }
}

/// A sequence-to-sequence task configuration: the data flags of the original's arguments plus the
/// decoding settings its `config_tasks/seq_*.sh` set (used by generation, not by the datasets).
public struct Seq2SeqTask: Sendable, Equatable {
    public var kind: Seq2SeqTaskKind
    /// `--src-seq-length`: source tokens (padded to it; customization and summarization also cut to it).
    public var srcSeqLength: Int
    /// `--tgt-seq-length`: training target tokens including `eop` (cut and padded to it).
    public var tgtSeqLength: Int
    /// `--task-mask`: `[sMASK]` instead of `[MASK]` (blank: `[gMASK]`).
    public var taskMask: Bool
    /// `--mask-pad-token` (customization only): an explicit [L, L] attention mask that hides the padding.
    public var maskPadToken: Bool
    /// `--no-block-position`: every target position gets block position 1.
    public var noBlockPosition: Bool
    /// `--blank-maskratio` (blank only): the fraction of words masked, and the extra room for targets.
    public var blankMaskRatio: Double
    /// `--seed`: seeds the blank task's word masking (`random.Random(seed)`, one generator per dataset).
    public var seed: Int
    /// `--min-tgt-length`, `--length-penalty`, `--no-repeat-ngram-size`, `--num-beams`, `--select-topk`,
    /// `--eval-batch-size` of the config (decoding; argparse defaults where the config sets none).
    public var minTgtLength: Int
    public var lengthPenalty: Double
    public var noRepeatNgramSize: Int
    public var numBeams: Int
    public var selectTopK: Bool
    public var evalBatchSize: Int
    /// The `config_tasks` file the preset comes from.
    public var config: String

    public init(kind: Seq2SeqTaskKind, srcSeqLength: Int, tgtSeqLength: Int, taskMask: Bool = false,
                maskPadToken: Bool = false, noBlockPosition: Bool = false, blankMaskRatio: Double = 0.1,
                seed: Int = 1234, minTgtLength: Int = 0, lengthPenalty: Double = 0, noRepeatNgramSize: Int = 0,
                numBeams: Int = 1, selectTopK: Bool = false, evalBatchSize: Int = 1, config: String = "") {
        self.kind = kind
        self.srcSeqLength = srcSeqLength
        self.tgtSeqLength = tgtSeqLength
        self.taskMask = taskMask
        self.maskPadToken = maskPadToken
        self.noBlockPosition = noBlockPosition
        self.blankMaskRatio = blankMaskRatio
        self.seed = seed
        self.minTgtLength = minTgtLength
        self.lengthPenalty = lengthPenalty
        self.noRepeatNgramSize = noRepeatNgramSize
        self.numBeams = numBeams
        self.selectTopK = selectTopK
        self.evalBatchSize = evalBatchSize
        self.config = config
    }

    /// The task as its `config_tasks/seq_*.sh` configures it (the `TASK_ARGS`; `--blank-maskratio`
    /// is the script's `MASK_RATIO`, 0.1 by default). `taskMask` follows the model config
    /// (`model_blocklm_10B.sh` and the Chinese models set `--task-mask`).
    public static func preset(_ kind: Seq2SeqTaskKind, taskMask: Bool = false, blankMaskRatio: Double = 0.1) -> Seq2SeqTask {
        switch kind {
        case .cnnDMOriginal:
            return Seq2SeqTask(kind: kind, srcSeqLength: 608, tgtSeqLength: 160, taskMask: taskMask, minTgtLength: 55,
                               lengthPenalty: 0.7, noRepeatNgramSize: 3, numBeams: 5, selectTopK: true, evalBatchSize: 1,
                               config: "config_tasks/seq_cnndm_org.sh")
        case .cnnDM:
            return Seq2SeqTask(kind: kind, srcSeqLength: 608, tgtSeqLength: 160, taskMask: taskMask, minTgtLength: 55,
                               lengthPenalty: 0.7, noRepeatNgramSize: 3, numBeams: 5, selectTopK: true, evalBatchSize: 4,
                               config: "config_tasks/seq_cnndm.sh")
        case .xsum:
            return Seq2SeqTask(kind: kind, srcSeqLength: 608, tgtSeqLength: 60, taskMask: taskMask, minTgtLength: 10,
                               lengthPenalty: 1.0, noRepeatNgramSize: 3, numBeams: 6, selectTopK: true, evalBatchSize: 1,
                               config: "config_tasks/seq_xsum.sh")
        case .gigaword:
            return Seq2SeqTask(kind: kind, srcSeqLength: 192, tgtSeqLength: 32, taskMask: taskMask, minTgtLength: 0,
                               lengthPenalty: 0.6, noRepeatNgramSize: 3, numBeams: 5, selectTopK: true, evalBatchSize: 4,
                               config: "config_tasks/seq_gigaword.sh")
        case .customization:
            return Seq2SeqTask(kind: kind, srcSeqLength: 512, tgtSeqLength: 128, taskMask: taskMask, minTgtLength: 55,
                               lengthPenalty: 0.7, noRepeatNgramSize: 3, numBeams: 5, selectTopK: true, evalBatchSize: 1,
                               config: "config_tasks/seq_customization.sh")
        case .blank:
            return Seq2SeqTask(kind: kind, srcSeqLength: 256, tgtSeqLength: 200, taskMask: taskMask, blankMaskRatio: blankMaskRatio,
                               minTgtLength: 0, lengthPenalty: 1, noRepeatNgramSize: 3, numBeams: 1, selectTopK: false,
                               evalBatchSize: 8, config: "config_tasks/seq_blank.sh")
        }
    }

    /// The mask command the samples use: summarization and customization `sMASK` with `--task-mask`,
    /// blank `gMASK`; `MASK` otherwise.
    public var maskCommand: CommandName {
        guard taskMask else { return .MASK }
        return kind == .blank ? .gMASK : .sMASK
    }

    /// Length of a blank training sample: `src + int(src * ratio)`.
    public var blankSampleLength: Int { srcSeqLength + Int(Double(srcSeqLength) * blankMaskRatio) }
}
