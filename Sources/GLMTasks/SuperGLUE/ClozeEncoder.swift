import GLMTokenizers

/// A `ClozeSample` with how many of its rows the pattern had to truncate (the original's
/// `pvp.num_truncated` grows by one per truncated row: per choice for multi-token tasks).
public struct ClozeEncoding: Sendable, Equatable {
    public var sample: ClozeSample
    public var truncatedRows: Int
}

/// Encodes examples as the original's `PVP.encode` with `--cloze-eval` (no continuous prompt, no priming,
/// no segments): tokenizes each pattern part on its own (`EncodeAsIds`), truncates (`PVP.truncate`) and
/// builds `[CLS] A B [eos] sop answer[:-1]` rows (`tasks/data_utils.py build_input_from_ids` with
/// `add_cls`, no `[SEP]`, `add_piece`), padded with the eos id.
///
/// Truncation: while the row is too long (cls + eos + the answer incl. `eop`, or + `sop` without one),
/// drop the last token of the last non-empty shortenable part of A or of B, whichever has more shortenable
/// tokens (ties: B); it may cut inside a word. Where it cannot (no shortenable tokens left) the original
/// crashes; here it is an error naming the example.
public struct ClozeEncoder: Sendable {
    public let tokenizer: any Tokenizer
    public let settings: SuperGLUESettings
    public let pvp: PatternVerbalizer
    /// The split whose examples are encoded: WSC's `mix` loss gives every train sample label 0.
    public let split: SuperGLUESplit
    let cls: Int, mask: Int, sop: Int, eop: Int, eos: Int

    public init(tokenizer: any Tokenizer, settings: SuperGLUESettings, split: SuperGLUESplit) throws {
        func id(_ name: CommandName) throws -> Int {
            guard let v = tokenizer.commandToken(name) else {
                throw SuperGLUEError.configuration("tokenizer \(tokenizer.name) has no \(name.rawValue) token")
            }
            return v
        }
        if settings.task == .wsc && !["generative", "mix"].contains(settings.lossFunc) {
            throw SuperGLUEError.configuration("WSC is encoded for the cloze losses \"generative\"/\"mix\" only (got \"\(settings.lossFunc)\")")
        }
        guard settings.seqLength >= 4 else { throw SuperGLUEError.configuration("sequence length \(settings.seqLength) is too short") }
        self.tokenizer = tokenizer
        self.settings = settings
        self.split = split
        pvp = try PatternVerbalizer(task: settings.task, patternId: settings.patternId)
        cls = try id(.ENC); mask = try id(.MASK); sop = try id(.sop); eop = try id(.eop); eos = try id(.eos)
    }

    /// Whether rows are built per answer (the multi-token cloze model).
    public var multiToken: Bool { settings.multiToken || settings.task.isMultiToken }

    /// The answers' ids: `EncodeAsIds(answer) + [eop]` (multi-token tasks).
    public func answerIds(_ example: SuperGLUEExample) throws -> [[Int]] {
        try pvp.answers(example).map { tokenizer.encode($0) + [eop] }
    }

    /// `get_verbalizer_ids()`: one id per label; each verbalization must be one non-command token.
    public func verbalizerIds() throws -> [Int] {
        let commandIds = Set(tokenizer.commandTokens.map(\.id))
        return try settings.task.labels.map { label in
            guard let word = try pvp.verbalize(label).first else { throw SuperGLUEError.configuration("no verbalizer for \(label)") }
            let ids = tokenizer.encode(word)
            guard ids.count == 1 else {
                throw SuperGLUEError.configuration("verbalization \"\(word)\" is \(ids.count) tokens, not one (\(tokenizer.name))")
            }
            guard !commandIds.contains(ids[0]) else {
                throw SuperGLUEError.configuration("verbalization \"\(word)\" is the command token \(ids[0])")
            }
            return ids[0]
        }
    }

    struct Part { var ids: [Int]; var shortenable: Bool }

    func encodeParts(_ parts: [PatternPart]) -> [Part] {
        parts.map {
            switch $0 {
            case .text(let s, let sh): return Part(ids: tokenizer.encode(s), shortenable: sh)
            case .mask: return Part(ids: [mask], shortenable: false)
            }
        }
    }

    /// The label index (`label_list.index(label)`; a missing label is 0; WSC train with `mix`: 0).
    func labelIndex(_ ex: SuperGLUEExample) throws -> Int {
        if settings.task == .wsc && split == .train { return 0 }
        if ex.label == .null { return 0 }
        guard let i = settings.task.labels.firstIndex(of: ex.label) else {
            throw SuperGLUEError.example(guid: ex.guid, reason: "label \(ex.label) is not one of \(settings.task.labels)")
        }
        return i
    }

    /// Stand-in id of a prompt token until `row` records its position and writes 0 there (the original's
    /// `prompt_id = tokenizer.num_tokens`, replaced by 0).
    static let promptToken = -1

    /// The encoded parts with the prompt tokens in place: `replace_prompt_tokens` (continuous prompts) and
    /// the prefix prompt before part A. Prompt parts are never shortened.
    func partsWithPrompts(_ pattern: FilledPattern) throws -> (a: [Part], b: [Part]?) {
        var a = encodeParts(pattern.a)
        var b: [Part]? = pattern.b.isEmpty ? nil : encodeParts(pattern.b)
        if settings.continuousPrompt && settings.numPromptTokens > 0 {
            let slots = try pvp.promptSlots()
            let counts = PatternVerbalizer.promptCounts(tokens: settings.numPromptTokens, slots: slots.a.count + slots.b.count)
            func insert(_ parts: [Part], _ at: [Int], _ counts: ArraySlice<Int>) -> [Part] {
                var out: [Part] = []
                for i in 0...parts.count {
                    for (k, slot) in at.enumerated() where slot == i && counts[counts.startIndex + k] > 0 {
                        out.append(Part(ids: Array(repeating: Self.promptToken, count: counts[counts.startIndex + k]), shortenable: false))
                    }
                    if i < parts.count { out.append(parts[i]) }
                }
                return out
            }
            a = insert(a, slots.a, counts.prefix(slots.a.count))
            // Pattern B placeholders with an empty part B do not occur (RTE/CB have a B, COPA has no B slots).
            if let bb = b { b = insert(bb, slots.b, counts.suffix(slots.b.count)) }
        }
        if settings.prefixPrompt > 0 {
            a.insert(Part(ids: Array(repeating: Self.promptToken, count: settings.prefixPrompt), shortenable: false), at: 0)
        }
        return (a, b)
    }

    /// `PVP.encode(example)`.
    public func encode(_ ex: SuperGLUEExample) throws -> ClozeEncoding {
        let pattern = try pvp.parts(ex)
        let (partsA, partsB) = try partsWithPrompts(pattern)
        let label = try labelIndex(ex)
        var truncated = 0
        if multiToken {
            var rows: [ClozeSample.Row] = []
            for answer in try answerIds(ex) {
                var a = partsA, b = partsB
                if try Self.truncate(&a, &b, answerLength: answer.count, maxLength: settings.seqLength, guid: ex.guid) { truncated += 1 }
                rows.append(try row(a.flatMap(\.ids), b?.flatMap(\.ids), answer: answer, guid: ex.guid))
            }
            return ClozeEncoding(sample: ClozeSample(kind: .multiToken, rows: rows, label: label, uid: ex.guid), truncatedRows: truncated)
        }
        var a = partsA, b = partsB
        if try Self.truncate(&a, &b, answerLength: 0, maxLength: settings.seqLength, guid: ex.guid) { truncated += 1 }
        var r = try row(a.flatMap(\.ids), b?.flatMap(\.ids), answer: nil, guid: ex.guid)
        r.targets = []
        let verbalizers = try verbalizerIds()
        return ClozeEncoding(sample: ClozeSample(kind: .singleToken(verbalizerIds: verbalizers), rows: [r], label: label, uid: ex.guid),
                             truncatedRows: truncated)
    }

    /// `PVP.truncate`: true when tokens were removed.
    static func truncate(_ a: inout [Part], _ b: inout [Part]?, answerLength: Int, maxLength: Int, guid: String) throws -> Bool {
        func length(_ parts: [Part]?, onlyShortenable: Bool = false) -> Int {
            (parts ?? []).reduce(0) { $0 + (!onlyShortenable || $1.shortenable ? $1.ids.count : 0) }
        }
        // cls + eos, + sop when there is no answer (the answer's own tokens include the eop).
        let total = length(a) + length(b) + answerLength + 2 + (answerLength == 0 ? 1 : 0)
        let remove = total - maxLength
        guard remove > 0 else { return false }
        func removeLast(_ parts: inout [Part]) throws {
            guard let i = parts.lastIndex(where: { $0.shortenable && !$0.ids.isEmpty }) else {
                throw SuperGLUEError.example(guid: guid, reason: "the pattern needs \(total) tokens but only \(maxLength) fit and nothing shortenable is left (the original crashes)")
            }
            parts[i].ids.removeLast()
        }
        for _ in 0..<remove {
            if length(a, onlyShortenable: true) > length(b, onlyShortenable: true) {
                try removeLast(&a)
            } else {
                guard b != nil else {
                    throw SuperGLUEError.example(guid: guid, reason: "the pattern needs \(total) tokens but only \(maxLength) fit and nothing shortenable is left (the original crashes)")
                }
                try removeLast(&b!)
            }
        }
        return true
    }

    /// `build_input_from_ids(a, b, answer, add_cls=True, add_sep=False, add_piece=True)`.
    func row(_ a: [Int], _ b: [Int]?, answer: [Int]?, guid: String) throws -> ClozeSample.Row {
        let seq = settings.seqLength
        var ids = [cls] + a + (b ?? [])
        if ids.count >= seq - 1 { ids = Array(ids.prefix(seq - 1)) }
        ids.append(eos)
        let sep = ids.count
        guard let maskPosition = ids.lastIndex(of: mask) else {
            throw SuperGLUEError.example(guid: guid, reason: "the [MASK] was cut off")
        }
        let promptPositions = ids.indices.filter { ids[$0] == Self.promptToken }
        for p in promptPositions { ids[p] = 0 }
        guard promptPositions.count == settings.promptLength else {
            throw SuperGLUEError.example(guid: guid, reason: "\(settings.promptLength - promptPositions.count) prompt tokens were cut off")
        }
        var positions = Array(0..<sep), blocks = Array(repeating: 0, count: sep)
        var targets = Array(repeating: 0, count: sep), logitMask = Array(repeating: 0, count: sep)
        ids.append(sop); positions.append(maskPosition); blocks.append(1)
        if let answer, !answer.isEmpty {
            ids += answer.dropLast()
            positions += Array(repeating: maskPosition, count: answer.count - 1)
            if answer.count >= 2 { blocks += Array(2...answer.count) }
            targets += answer
            logitMask += Array(repeating: 1, count: answer.count)
        } else {
            targets.append(0); logitMask.append(1)
        }
        let pad = seq - ids.count
        if pad > 0 {
            ids += Array(repeating: eos, count: pad)
            positions += Array(repeating: 0, count: pad); blocks += Array(repeating: 0, count: pad)
            targets += Array(repeating: 0, count: pad); logitMask += Array(repeating: 0, count: pad)
        }
        return ClozeSample.Row(ids: ids, positions: positions, blockPositions: blocks, targets: targets, logitMask: logitMask, sep: sep,
                               promptPositions: promptPositions)
    }
}
