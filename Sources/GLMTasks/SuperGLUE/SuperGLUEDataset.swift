import GLMTokenizers

/// A task split as the original's `SuperGlueDataset` with `--cloze-eval`: the processor's examples
/// (COPA train with its mirrors, WSC train chunks, ReCoRD per-answer examples), stably sorted by
/// `num_choices`, each encoded by the task's pattern-verbalizer pair.
public struct SuperGLUEDataset: Sendable {
    public let settings: SuperGLUESettings
    public let split: SuperGLUESplit
    /// Examples in dataset order (after the stable sort by `numChoices`); `samples[i]` encodes `examples[i]`.
    public let examples: [SuperGLUEExample]
    public let samples: [ClozeSample]
    /// The original's `pvp.num_truncated` after encoding every sample once (one per truncated row).
    public let numTruncated: Int
    /// Whether samples have different numbers of choices (WSC with `--wsc-negative`, ReCoRD).
    public var variableNumChoices: Bool { settings.task.variableNumChoices(wscNegative: settings.wscNegative) }

    /// Encodes already-read examples (sorting them as the original does).
    public init(settings: SuperGLUESettings, split: SuperGLUESplit, examples: [SuperGLUEExample], tokenizer: any Tokenizer) throws {
        self.settings = settings
        self.split = split
        self.examples = Self.sortedByNumChoices(examples)
        let encoder = try ClozeEncoder(tokenizer: tokenizer, settings: settings, split: split)
        var samples: [ClozeSample] = [], truncated = 0
        for ex in self.examples {
            let e = try encoder.encode(ex)
            samples.append(e.sample)
            truncated += e.truncatedRows
        }
        self.samples = samples
        numTruncated = truncated
    }

    /// Reads `<folder>/{train,val,test}.jsonl` with the task's processor and encodes it.
    public init(settings: SuperGLUESettings, split: SuperGLUESplit, folder: String, tokenizer: any Tokenizer,
                processor: SuperGLUEProcessor? = nil) throws {
        let p = processor ?? SuperGLUEProcessor(task: settings.task)
        guard p.task == settings.task else {
            throw SuperGLUEError.configuration("processor of \(p.task.rawValue) for settings of \(settings.task.rawValue)")
        }
        try self.init(settings: settings, split: split, examples: try p.examples(folder: folder, split: split), tokenizer: tokenizer)
    }

    /// `example_list.sort(key=lambda x: x.num_choices)`: stable.
    public static func sortedByNumChoices(_ examples: [SuperGLUEExample]) -> [SuperGLUEExample] {
        examples.enumerated().sorted { ($0.element.numChoices, $0.offset) < ($1.element.numChoices, $1.offset) }.map(\.element)
    }
}
