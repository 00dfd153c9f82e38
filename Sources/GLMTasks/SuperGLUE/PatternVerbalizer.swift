/// One piece of a filled pattern, as the original's `get_parts` returns them: a text (tokenized on its own)
/// that truncation may or may not shorten, or the blank (`[self.mask]`, the `[MASK]` token id).
public enum PatternPart: Sendable, Equatable {
    case text(String, shortenable: Bool)
    case mask

    static func fixed(_ s: String) -> PatternPart { .text(s, shortenable: false) }
    static func short(_ s: String) -> PatternPart { .text(s, shortenable: true) }
}

/// A filled pattern: part A and part B (empty for patterns with one part; the original's `parts_b` is then None).
public struct FilledPattern: Sendable, Equatable {
    public var a: [PatternPart]
    public var b: [PatternPart]

    public init(a: [PatternPart], b: [PatternPart] = []) { self.a = a; self.b = b }

    /// The parts concatenated with `[MASK]` for the blank, ` || ` before part B (the fixtures' `pattern_text`).
    public var text: String {
        func join(_ parts: [PatternPart]) -> String {
            parts.map { if case .text(let s, _) = $0 { return s } else { return "[MASK]" } }.joined()
        }
        return b.isEmpty ? join(a) : join(a) + " || " + join(b)
    }
}

/// The original's pattern-verbalizer pairs (`tasks/superglue/pvp.py`: `RtePVP`, `CbPVP`, `WicPVP`, `WscPVP`,
/// `BoolQPVP`, `CopaPVP`, `MultiRcPVP`, `RecordPVP`) without continuous prompts: for each pattern id the
/// parts (`get_parts`), the verbalizer (`verbalize`) and the answers (`get_answers`).
///
/// Texts are concatenated exactly as the patterns do (`COPA` pattern 0 has no space before `"`; the
/// `" " + text` pieces carry their own space), because every part is tokenized on its own.
public struct PatternVerbalizer: Sendable {
    public let task: SuperGLUETask
    public let patternId: Int

    public init(task: SuperGLUETask, patternId: Int) throws {
        guard task.patternIds.contains(patternId) else {
            throw SuperGLUEError.configuration("\(task.rawValue) has no pattern \(patternId) (patterns: \(task.patternIds.map(String.init).joined(separator: ", ")))")
        }
        self.task = task
        self.patternId = patternId
    }

    /// `get_parts(example)`.
    public func parts(_ ex: SuperGLUEExample) throws -> FilledPattern {
        let p = patternId
        switch task {
        case .rte, .cb:
            let rawB = try textB(ex)
            if task == .cb && p == 4 {
                return FilledPattern(a: [.short(ex.textA), .fixed(" question:"), .short(" " + rawB),
                                         .fixed(" true, false or neither?"), .fixed(" answer:"), .mask])
            }
            let a = ex.textA, b = SuperGLUEText.rstripPunctuation(rawB)
            switch p {
            case 0: return FilledPattern(a: [.fixed("\""), .short(b), .fixed("\" ?")], b: [.mask, .fixed(","), .fixed(" \""), .short(a), .fixed("\"")])
            case 1: return FilledPattern(a: [.short(b), .fixed("?")], b: [.mask, .fixed(","), .short(" " + a)])
            case 2: return FilledPattern(a: [.fixed("\""), .short(b), .fixed("\" ?")], b: [.mask, .fixed(". \""), .short(a), .fixed("\"")])
            case 3: return FilledPattern(a: [.short(b), .fixed("?")], b: [.mask, .fixed("."), .short(" " + a)])
            default: return FilledPattern(a: [.short(a), .fixed(" question:"), .short(" " + b), .fixed(" True or False?"), .fixed(" answer:"), .mask])
            }
        case .boolq:
            let passage = ex.textA
            let question = try textB(ex)
            switch p {
            case 0, 1: return FilledPattern(a: [.short(passage), .fixed(" Question:"), .short(" " + question), .fixed("? Answer:"), .mask, .fixed(".")])
            case 2, 3: return FilledPattern(a: [.short(passage), .fixed(" Based on the previous passage,"), .short(" " + question), .fixed("?"), .mask, .fixed(".")])
            default: return FilledPattern(a: [.fixed("Based on the following passage"), .short(" " + question), .fixed("?"), .mask, .fixed("."), .short(" " + passage)])
            }
        case .wic:
            let a = ex.textA
            let b = try textB(ex)
            let word = try ex.metaString("word")
            switch p {
            case 0: return FilledPattern(a: [.short("\"" + a + "\" / \"" + b + "\""), .fixed(" Similar sense of \"" + word + "\"?"), .mask, .fixed(".")])
            case 1: return FilledPattern(a: [.short(a), .short(" " + b), .fixed(" Does " + word + " have the same meaning in both sentences?"), .mask])
            default: return FilledPattern(a: [.fixed(word), .fixed(" ."), .fixed(" Sense (1) (a) \""), .short(a), .fixed("\""), .fixed(" ("), .mask, .fixed(") \""), .fixed(b), .fixed("\"")])
            }
        case .multirc:
            let passage = SuperGLUEText.rstripPunctuation(SuperGLUEText.rstrip(ex.textA))
            let question = SuperGLUEText.rstripPunctuation(SuperGLUEText.rstrip(try textB(ex)))
            let answer = try ex.metaString("answer")
            switch p {
            case 0: return FilledPattern(a: [.short(passage), .fixed("."), .fixed(" Question:"), .fixed(" " + question + "?"), .fixed(" Is it"), .fixed(" " + answer), .fixed("?"), .mask, .fixed(".")])
            case 1: return FilledPattern(a: [.short(passage), .fixed("."), .fixed(" Question:"), .fixed(" " + question), .fixed("?"), .fixed(" Is the correct answer \""), .fixed(answer), .fixed("\"?"), .mask, .fixed(".")])
            case 2: return FilledPattern(a: [.short(passage), .fixed(". Based on the previous passage,"), .fixed(" " + question), .fixed("?"), .fixed(" Is \""), .fixed(answer), .fixed("\" a correct answer?"), .mask, .fixed(".")])
            case 3: return FilledPattern(a: [.short(passage), .fixed(" " + question), .fixed("- ["), .mask, .fixed("]"), .fixed(answer)])
            default: return FilledPattern(a: [.short(passage), .fixed("."), .fixed(" Question:"), .fixed(" " + question), .fixed("?"), .fixed(" " + answer), .fixed("?"), .mask, .fixed(".")])
            }
        case .copa:
            let premise = SuperGLUEText.rstripPunctuation(" " + ex.textA)
            let choice1 = SuperGLUEText.rstripPunctuation(SuperGLUEText.changeFirst(try ex.metaString("choice1")))
            let choice2 = SuperGLUEText.rstripPunctuation(SuperGLUEText.changeFirst(try ex.metaString("choice2")))
            let joiner = try copaQuestion(ex) == "cause" ? " because" : ", so"
            if p == 0 {
                return FilledPattern(a: [.fixed("\""), .fixed(choice1), .fixed("\" or \""), .fixed(choice2), .fixed("\"?"), .short(premise), .fixed(joiner), .mask, .fixed(".")])
            }
            return FilledPattern(a: [.fixed(choice1), .fixed(" or"), .fixed(" " + choice2), .fixed("?"), .short(premise), .fixed(joiner), .mask, .fixed(".")])
        case .wsc:
            let pronoun = try ex.metaString("span2_text")
            let pronounIndex = try ex.metaInt("span2_index")
            var words = PythonText.splitWhitespace(ex.textA)
            guard let j = SuperGLUEText.index(pronounIndex, count: words.count) else {
                throw SuperGLUEError.example(guid: ex.guid, reason: "span2_index \(pronounIndex) is outside the \(words.count) words of the text")
            }
            words[j] = "*" + words[j] + "*"
            let text = PatternPart.short(words.joined(separator: " "))
            switch p {
            case 0: return FilledPattern(a: [text, .fixed(" The pronoun '*" + pronoun + "*' refers to"), .mask, .fixed(".")])
            case 1: return FilledPattern(a: [text, .fixed(" In the previous sentence, the pronoun '*" + pronoun + "*' refers to"), .mask, .fixed(".")])
            default: return FilledPattern(a: [text, .fixed(" Question: In the passage above, what does the pronoun '*" + pronoun + "*' refer to?"), .fixed(" Answer:"), .mask, .fixed(".")])
            }
        case .record:
            let query = try textB(ex)
            let halves = SuperGLUEText.split(query, separator: "@placeholder")
            guard halves.count == 2 else {
                throw SuperGLUEError.example(guid: ex.guid, reason: "the query must contain \"@placeholder\" exactly once: \"\(query)\"")
            }
            return FilledPattern(a: [.short(ex.textA), .fixed(" " + SuperGLUEText.rstrip(halves[0])), .mask, .fixed(halves[1])])
        }
    }

    /// Where the original's pattern has its `None` prompt placeholders (`pvp.py`, `--continuous-prompt`):
    /// for part A and part B of `parts(ex)`, the indices before which a placeholder stands (in order; an
    /// index may be the part count: after the last part). Every task but ReCoRD (which has none).
    public func promptSlots() throws -> (a: [Int], b: [Int]) {
        switch (task, patternId) {
        case (.rte, 4), (.cb, 4):
            // [None, text_a, None, ' question:', text_b, ' … ?', None, ' answer:', [MASK]]
            return ([0, 1, 4], [])
        case (.rte, _), (.cb, _):
            // A: [None, …]; B: [None, [MASK], ',' / '.' / '. "', None, …]
            return ([0], [0, 2])
        case (.copa, 0):
            // [None, '"', choice1, '" or "', choice2, '"?', None, premise, joiner, None, [MASK], '.']
            return ([0, 5, 7], [])
        case (.copa, _):
            // [None, choice1, ' or', ' ' + choice2, '?', None, premise, joiner, None, [MASK], '.']
            return ([0, 4, 6], [])
        case (.boolq, 0), (.boolq, 1):
            // [None, passage, None, ' Question:', question, '? Answer:', None, [MASK], '.']
            return ([0, 1, 4], [])
        case (.boolq, 2), (.boolq, 3):
            // [None, passage, ' Based on the previous passage,', None, question, '?', None, [MASK], '.']
            return ([0, 2, 4], [])
        case (.boolq, _):
            // ['Based on the following passage', None, question, '?', None, [MASK], '.', None, passage]
            return ([1, 3, 5], [])
        case (.wic, 0):
            // [None, '"a" / "b"', None, ' Similar sense of "word"?', None, [MASK], '.']
            return ([0, 1, 2], [])
        case (.wic, 1):
            // [a, None, ' ' + b, None, ' Does word have the same meaning in both sentences?', None, [MASK]]
            return ([1, 2, 3], [])
        case (.wic, _):
            // [None, word, ' .', None, ' Sense (1) (a) "', a, '"', None, ' (', [MASK], ') "', b, '"']
            return ([0, 2, 5], [])
        case (.multirc, 0), (.multirc, 2):
            // [passage, '.', None, ' Question:', ' q?', None, ' Is it', ' answer', '?', None, [MASK], '.'] (2: the same slots)
            return ([2, 4, 7], [])
        case (.multirc, 1):
            // [passage, '.', None, ' Question:', ' q', '?', None, ' Is the correct answer "', answer, '"?', None, [MASK], '.']
            return ([2, 5, 8], [])
        case (.multirc, 3):
            // [None, passage, None, ' q', '- [', [MASK], ']', None, answer]
            return ([0, 1, 5], [])
        case (.multirc, _):
            // [passage, '.', None, ' Question:', ' q', '?', None, ' answer', '?', None, [MASK], '.']
            return ([2, 5, 7], [])
        case (.wsc, _):
            // [None, text, None, " The pronoun '*p*' refers to" (or pattern 1/2's question), None, (' Answer:',) [MASK], '.']
            return ([0, 1, 2], [])
        case (.record, _):
            // ReCoRD's pattern has no placeholder (the original divides by zero there).
            throw SuperGLUEError.configuration("ReCoRD's pattern has no prompt placeholders: continuous prompts do not apply")
        }
    }

    /// The original's `replace_prompt_tokens`: `tokens` prompt tokens over `slots` placeholders in order
    /// (A's, then B's), ⌈tokens / slots⌉ each until they run out; a placeholder left with none is dropped.
    public static func promptCounts(tokens: Int, slots: Int) -> [Int] {
        guard slots > 0 else { return [] }
        let average = (tokens + slots - 1) / slots
        var left = tokens
        return (0..<slots).map { _ in
            let n = min(average, left)
            left -= n
            return n
        }
    }

    /// `verbalize(label)` of the single-token tasks (the multi-token PVPs verbalize to nothing).
    public func verbalize(_ label: SuperGLUEValue) throws -> [String] {
        let p = patternId
        func unknown() -> SuperGLUEError { .configuration("\(task.rawValue) pattern \(p) has no verbalizer for label \(label)") }
        switch task {
        case .rte:
            if p == 4 { return [label == .string("entailment") ? " true" : " false"] }
            switch label {
            case .string("not_entailment"): return [" No"]
            case .string("entailment"): return [" Yes"]
            default: throw unknown()
            }
        case .cb:
            if p == 4 { return [label == .string("entailment") ? " true" : label == .string("contradiction") ? " false" : " neither"] }
            switch label {
            case .string("contradiction"): return [" No"]
            case .string("entailment"): return [" Yes"]
            case .string("neutral"): return [" Maybe"]
            default: throw unknown()
            }
        case .boolq:
            let a = p == 0 || p == 2 || p == 4
            switch label {
            case .string("false"): return [a ? " No" : " false"]
            case .string("true"): return [a ? " Yes" : " true"]
            default: throw unknown()
            }
        case .wic:
            switch label {
            case .string("false"): return [p == 2 ? "2" : " No"]
            case .string("true"): return [p == 2 ? "b" : " Yes"]
            default: throw unknown()
            }
        case .multirc:
            if p == 3 { return [label == .int(0) ? " False" : " True"] }
            switch label {
            case .int(0): return [" No"]
            case .int(1): return [" Yes"]
            default: throw unknown()
            }
        case .copa, .wsc, .record:
            return []
        }
    }

    /// `get_answers(example)`: the choice texts of the multi-token tasks, else the first verbalization of
    /// every label (in label order).
    public func answers(_ ex: SuperGLUEExample) throws -> [String] {
        switch task {
        case .copa:
            return try ["choice1", "choice2"].map { key in
                let choice = try ex.metaString(key)
                return " " + SuperGLUEText.rstripPunctuation(SuperGLUEText.changeFirst(choice))
            }
        case .wsc:
            let target = try ex.metaString("span1_text")
            var answers = [" " + target]
            if let c = ex.meta["candidates"] {
                guard let cands = c.array?.compactMap(\.string), cands.count == c.array?.count else {
                    throw SuperGLUEError.example(guid: ex.guid, reason: "meta candidates must be a list of strings")
                }
                answers += cands.map { " " + $0 }
            }
            return answers
        case .record:
            guard let cands = ex.meta["candidates"]?.array?.compactMap(\.string) else {
                throw SuperGLUEError.example(guid: ex.guid, reason: "meta candidates must be a list of strings")
            }
            return cands.map { " " + $0 }
        default:
            return try task.labels.map { label in
                guard let v = try verbalize(label).first else { throw SuperGLUEError.configuration("empty verbalizer") }
                return v
            }
        }
    }

    private func textB(_ ex: SuperGLUEExample) throws -> String {
        guard let b = ex.textB else { throw SuperGLUEError.example(guid: ex.guid, reason: "text_b is missing") }
        return b
    }

    private func copaQuestion(_ ex: SuperGLUEExample) throws -> String {
        let q = try ex.metaString("question")
        guard q == "cause" || q == "effect" else {
            throw SuperGLUEError.example(guid: ex.guid, reason: "question must be \"cause\" or \"effect\", got \"\(q)\"")
        }
        return q
    }
}
