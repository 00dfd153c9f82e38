import GLMTokenizers

/// The eight SuperGLUE tasks of GLM's `tasks/superglue` (the original's `--task` names, lowercased).
public enum SuperGLUETask: String, Sendable, CaseIterable {
    case copa, wsc, rte, wic, cb, multirc, boolq, record

    /// `--task` spellings of `config_tasks/task_*.sh` (`COPA`, `ReCoRD`, …) are accepted case-insensitively.
    public init(named name: String) throws {
        guard let t = SuperGLUETask(rawValue: name.lowercased()) else {
            throw SuperGLUEError.configuration("unknown task \"\(name)\" (known: \(SuperGLUETask.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = t
    }

    /// The processor's `get_labels()`: what `label_list.index(example.label)` indexes.
    public var labels: [SuperGLUEValue] {
        switch self {
        case .rte: return [.string("entailment"), .string("not_entailment")]
        case .cb: return [.string("entailment"), .string("contradiction"), .string("neutral")]
        case .wic, .boolq: return [.string("false"), .string("true")]
        case .wsc: return [.string("False"), .string("True")]
        case .copa, .multirc: return [.int(0), .int(1)]
        case .record: return [.string("0"), .string("1")]
        }
    }

    /// The pattern ids the original's PVP offers (`available_patterns()`; WSC's `get_parts` has 0…2).
    public var patternIds: [Int] {
        switch self {
        case .copa: return [0, 1]
        case .wsc, .wic: return [0, 1, 2]
        case .rte, .cb, .multirc: return [0, 1, 2, 3, 4]
        case .boolq: return [0, 1, 2, 3, 4, 5]
        case .record: return [0]
        }
    }

    /// Whether `finetune.py` picks the multi-token cloze model (`pvp.is_multi_token`): COPA, WSC, ReCoRD.
    public var isMultiToken: Bool { self == .copa || self == .wsc || self == .record }

    /// Whether samples have a variable number of choices (WSC with `--wsc-negative`, ReCoRD).
    public func variableNumChoices(wscNegative: Bool) -> Bool { self == .record || (self == .wsc && wscNegative) }
}

/// The fine-tuning flags of one task that shape its data: `config_tasks/task_<task>.sh` with
/// `scripts/finetune_superglue.sh` (GLM-Large) or `scripts/ds_finetune_superglue.sh` +
/// `config_tasks/model_blocklm_10B.sh` (GLM-10B).
public struct SuperGLUESettings: Sendable, Equatable {
    public var task: SuperGLUETask
    /// `--seq-length` (`MAX_SEQ_LEN`).
    public var seqLength: Int
    /// `--pattern-id` (the last occurrence: the 10B script appends `--pattern-id 0`).
    public var patternId: Int
    /// The cloze model: multi-token (one row per choice) or single-token (verbalizer logits).
    public var multiToken: Bool
    /// `--loss-func`: `cross_entropy` or, for WSC, `mix`.
    public var lossFunc: String
    /// `--length-penalty` (WSC: 1).
    public var lengthPenalty: Double
    /// `--wsc-negative`.
    public var wscNegative: Bool
    /// `--task-mask` (the 10B models; the tokenizer then has [sMASK]/[gMASK]).
    public var taskMask: Bool
    /// The tokenizer preset the model uses.
    public var tokenizer: TokenizerPreset
    /// `--continuous-prompt`: the pattern's prompt placeholders become `numPromptTokens` prompt tokens
    /// (P-tuning; `PatternVerbalizer.promptSlots`). Off, or with 0 tokens, the samples are today's.
    public var continuousPrompt = false
    /// `--num-prompt-tokens`.
    public var numPromptTokens = 0
    /// `--prefix-prompt`: this many prompt tokens before part A (independent of `continuousPrompt`).
    public var prefixPrompt = 0

    /// The original's `pvp.spell_length`: prompt tokens per row (placeholder tokens + prefix tokens).
    public var promptLength: Int { (continuousPrompt ? numPromptTokens : 0) + prefixPrompt }

    public init(task: SuperGLUETask, seqLength: Int, patternId: Int, multiToken: Bool? = nil, lossFunc: String = "cross_entropy",
                lengthPenalty: Double = 0, wscNegative: Bool = false, taskMask: Bool = false, tokenizer: TokenizerPreset = .glmLarge) {
        self.task = task; self.seqLength = seqLength; self.patternId = patternId
        self.multiToken = multiToken ?? task.isMultiToken
        self.lossFunc = lossFunc; self.lengthPenalty = lengthPenalty; self.wscNegative = wscNegative
        self.taskMask = taskMask; self.tokenizer = tokenizer
    }

    /// `MAX_SEQ_LEN` of `config_tasks/task_<task>.sh`.
    static func maxSeqLength(_ task: SuperGLUETask) -> Int {
        switch task {
        case .wsc: return 128
        case .multirc, .record: return 512
        default: return 256
        }
    }

    /// `--pattern-id` of `config_tasks/task_<task>.sh`.
    static func taskPatternId(_ task: SuperGLUETask) -> Int {
        switch task {
        case .wsc: return 2
        case .wic: return 1
        case .cb: return 3
        case .boolq: return 4
        default: return 0
        }
    }

    /// GLM-Large (`scripts/finetune_superglue.sh`, BERT WordPiece, no task mask).
    public static func glmLarge(_ task: SuperGLUETask) -> SuperGLUESettings {
        let wsc = task == .wsc
        return SuperGLUESettings(task: task, seqLength: maxSeqLength(task), patternId: taskPatternId(task),
                                 lossFunc: wsc ? "mix" : "cross_entropy", lengthPenalty: wsc ? 1 : 0, wscNegative: wsc,
                                 taskMask: false, tokenizer: .glmLarge)
    }

    /// GLM-10B (`scripts/ds_finetune_superglue.sh`: GPT-2 BPE, `--task-mask`, and `--pattern-id 0` appended
    /// after the task's flags, which overrides the task's pattern id).
    public static func glm10B(_ task: SuperGLUETask) -> SuperGLUESettings {
        var s = glmLarge(task)
        s.patternId = 0
        s.taskMask = true
        s.tokenizer = .glm10B
        return s
    }
}
