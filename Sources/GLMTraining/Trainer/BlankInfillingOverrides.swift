// The blank-infilling flags of the original (`arguments.py`) as optional overrides, shared by
// `glm data sample` (a config) and `glm pretrain` (edits of a run spec).

/// Unset values keep the objective preset's value, or the original's command-line default.
public struct BlankInfillingOverrides: Sendable, Equatable {
    /// Data flags of a published model's pre-training script (`BlankInfillingConfig.presetNames`).
    public var preset: String?
    public var bertProb: Double?, gapSentenceProb: Double?, gptInfillProb: Double?, gptMinRatio: Double?
    public var bertRatio: Double?, gapSentenceRatio: Double?, avgBlockLength: Double?, blockMaskProb: Double?
    public var contextMaskRatio: Double?, shortSeqProb: Double?, singleSpanProb: Double?
    /// Flags: they count as given only when set (a flag's absence cannot be told from "not given").
    public var taskMask = false, noShuffleBlock = false, noBlockPosition = false, sampleOneDocument = false

    public init() {}

    /// The preset named by `preset` (or the defaults) with every override applied, at `seqLength`.
    public func config(seqLength: Int) throws -> BlankInfillingConfig {
        var s = try presetEdit()?.config ?? BlankInfillingConfig()
        s.seqLength = seqLength
        for e in edits { e.apply(&s) }
        return s
    }

    /// One edit per given value, with its flag spelling for messages (the preset is not among them).
    var edits: [(option: String, apply: (inout BlankInfillingConfig) -> Void)] {
        var e: [(String, (inout BlankInfillingConfig) -> Void)] = []
        func add(_ name: String, _ v: Double?, _ path: WritableKeyPath<BlankInfillingConfig, Double>) {
            if let v { e.append(("--\(name) \(v)", { $0[keyPath: path] = v })) }
        }
        add("bert-prob", bertProb, \.bertProb)
        add("gap-sentence-prob", gapSentenceProb, \.gapSentenceProb)
        add("gpt-infill-prob", gptInfillProb, \.gptInfillProb)
        add("gpt-min-ratio", gptMinRatio, \.gptMinRatio)
        add("bert-ratio", bertRatio, \.bertRatio)
        add("gap-sentence-ratio", gapSentenceRatio, \.gapSentenceRatio)
        add("avg-block-length", avgBlockLength, \.avgBlockLength)
        add("block-mask-prob", blockMaskProb, \.blockMaskProb)
        add("context-mask-ratio", contextMaskRatio, \.contextMaskRatio)
        add("short-seq-prob", shortSeqProb, \.shortSeqProb)
        add("single-span-prob", singleSpanProb, \.singleSpanProb)
        if taskMask { e.append(("--task-mask", { $0.taskMask = true })) }
        if noShuffleBlock { e.append(("--no-shuffle-block", { $0.shuffleBlocks = false })) }
        if noBlockPosition { e.append(("--no-block-position", { $0.blockPositionEncoding = false })) }
        if sampleOneDocument { e.append(("--sample-one-document", { $0.sampleAcrossDocuments = false })) }
        return e
    }

    /// The `--objective-preset` as a whole-config replacement, or nil when none is given.
    func presetEdit() throws -> (option: String, config: BlankInfillingConfig)? {
        guard let name = preset else { return nil }
        guard let c = BlankInfillingConfig.preset(name) else {
            throw TrainingError.invalidOption("--objective-preset \(name) is unknown (known: \(BlankInfillingConfig.presetNames.joined(separator: ", ")))")
        }
        return ("--objective-preset \(name)", c)
    }
}
