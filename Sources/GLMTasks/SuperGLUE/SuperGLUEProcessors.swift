import Foundation

/// Which file of a task folder a split reads, and the guid prefix (`set_type`) it gives.
public enum SuperGLUESplit: String, Sendable, CaseIterable {
    case train, dev, test

    /// `train.jsonl`, `val.jsonl`, `test.jsonl` (the official layout).
    public var fileName: String {
        switch self {
        case .train: return "train.jsonl"
        case .dev: return "val.jsonl"
        case .test: return "test.jsonl"
        }
    }
}

/// The original's data processors (`tasks/superglue/dataset.py`: `RteProcessor`, `CbProcessor`,
/// `WicProcessor`, `WscProcessor`, `BoolQProcessor`, `CopaProcessor`, `MultiRcProcessor`,
/// `RecordProcessor`) with cloze evaluation: one reader per task from the official jsonl field layout.
///
/// What they reproduce: `punctuation_standardization` of every text except COPA's; RTE/CB `idx` strings
/// parsed with `int()` (else the line index); WSC candidate de-duplication, span index corrections and
/// the split of a pronoun glued to punctuation, train keeping only `True` examples in chunks of 9
/// candidates; COPA train mirrors; ReCoRD entities, one train example per answer with candidates shuffled by
/// `random.Random(42)`.
public struct SuperGLUEProcessor: Sendable {
    public let task: SuperGLUETask
    /// ReCoRD only: the order of a question's de-duplicated answers. The original iterates a Python `set`,
    /// whose order depends on the per-process string hash seed (`PYTHONHASHSEED`), so no fixed rule reproduces
    /// every run; the default keeps the order of first occurrence in the file. Train examples (`-a<i>`) and the
    /// dev `meta.answers` follow this order.
    public var recordAnswerOrder: @Sendable ([String]) -> [String]

    public init(task: SuperGLUETask, recordAnswerOrder: @escaping @Sendable ([String]) -> [String] = { $0 }) {
        self.task = task
        self.recordAnswerOrder = recordAnswerOrder
    }

    /// The examples of `split` from `<folder>/<split file>`, in file order (before the dataset's sort).
    public func examples(folder: String, split: SuperGLUESplit) throws -> [SuperGLUEExample] {
        try examples(file: (folder as NSString).appendingPathComponent(split.fileName), split: split)
    }

    /// The examples of one jsonl file read as `split`.
    public func examples(file: String, split: SuperGLUESplit) throws -> [SuperGLUEExample] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw SuperGLUEError.data(file: file, line: 0, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SuperGLUEError.data(file: file, line: 0, reason: "not UTF-8 text")
        }
        return try examples(jsonl: text, file: file, split: split)
    }

    /// The examples of jsonl text (`file` only names it in errors). Whitespace-only lines are skipped
    /// (the original would crash on them); line indices still count them, as the original's `enumerate(f)`.
    public func examples(jsonl text: String, file: String = "<input>", split: SuperGLUESplit) throws -> [SuperGLUEExample] {
        var lines: [(index: Int, object: [String: SuperGLUEValue])] = []
        let decoder = JSONDecoder()
        // Split on the newline byte (a Swift `Character` would merge "\r\n"; JSON ignores the "\r").
        for (i, line) in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) {
            do {
                lines.append((i, try decoder.decode([String: SuperGLUEValue].self, from: Data(line))))
            } catch {
                throw SuperGLUEError.data(file: file, line: i + 1, reason: "malformed JSON or not an object (\(error))")
            }
        }
        var reader = LineReader(task: task, file: file, split: split, answerOrder: recordAnswerOrder)
        var out: [SuperGLUEExample] = []
        for (index, object) in lines { out += try reader.read(object, lineIndex: index) }
        if task == .copa && split == .train { out += out.map(Self.mirror) }
        return out
    }

    /// COPA's mirrored training example: choices swapped, label flipped, guid + `m`, idx -1.
    static func mirror(_ ex: SuperGLUEExample) -> SuperGLUEExample {
        let isZero: Bool
        switch ex.label {
        case .int(let i): isZero = i == 0
        case .bool(let b): isZero = !b
        case .double(let d): isZero = d == 0
        default: isZero = false
        }
        var meta = ex.meta
        meta["choice1"] = ex.meta["choice2"]
        meta["choice2"] = ex.meta["choice1"]
        return SuperGLUEExample(guid: ex.guid + "m", textA: ex.textA, label: .int(isZero ? 1 : 0), meta: meta)
    }
}

/// One file's reading state (ReCoRD's entity shuffler lives for one file, as the original's).
private struct LineReader {
    let task: SuperGLUETask, file: String, split: SuperGLUESplit
    let answerOrder: @Sendable ([String]) -> [String]
    var shuffler = PythonRandom(seed: 42)
    var lineNumber = 0

    init(task: SuperGLUETask, file: String, split: SuperGLUESplit, answerOrder: @escaping @Sendable ([String]) -> [String]) {
        self.task = task; self.file = file; self.split = split; self.answerOrder = answerOrder
    }

    func fail(_ reason: String) -> SuperGLUEError { .data(file: file, line: lineNumber, reason: reason) }

    func field(_ o: [String: SuperGLUEValue], _ key: String) throws -> SuperGLUEValue {
        guard let v = o[key] else { throw fail("missing field \"\(key)\"") }
        return v
    }

    func string(_ o: [String: SuperGLUEValue], _ key: String) throws -> String {
        guard let s = try field(o, key).string else { throw fail("field \"\(key)\" must be a string") }
        return s
    }

    func int(_ o: [String: SuperGLUEValue], _ key: String) throws -> Int {
        guard let i = try field(o, key).int else { throw fail("field \"\(key)\" must be an integer") }
        return i
    }

    func object(_ o: [String: SuperGLUEValue], _ key: String) throws -> [String: SuperGLUEValue] {
        guard let d = try field(o, key).object else { throw fail("field \"\(key)\" must be an object") }
        return d
    }

    func list(_ o: [String: SuperGLUEValue], _ key: String) throws -> [[String: SuperGLUEValue]] {
        guard let a = try field(o, key).array else { throw fail("field \"\(key)\" must be a list") }
        return try a.map { guard let d = $0.object else { throw fail("field \"\(key)\" must be a list of objects") }; return d }
    }

    mutating func read(_ o: [String: SuperGLUEValue], lineIndex: Int) throws -> [SuperGLUEExample] {
        lineNumber = lineIndex + 1
        let set = split.rawValue
        let std = SuperGLUEText.standardize
        switch task {
        case .rte, .cb:
            var idx = try field(o, "idx")
            if case .string(let s) = idx { idx = .int(Int(PythonText.strip(s)) ?? lineIndex) }
            return [SuperGLUEExample(guid: "\(set)-\(idx.pythonString)", textA: std(try string(o, "premise")),
                                     textB: std(try string(o, "hypothesis")), label: o["label"] ?? .null, idx: idx)]
        case .wic:
            var idx = try field(o, "idx")
            if case .string(let s) = idx {
                guard let i = Int(PythonText.strip(s)) else { throw fail("idx \"\(s)\" is not an integer (the original's int() raises)") }
                idx = .int(i)
            }
            let label: SuperGLUEValue = .string((o["label"]?.isTruthy ?? false) ? "true" : "false")
            return [SuperGLUEExample(guid: "\(set)-\(idx.pythonString)", textA: std(try string(o, "sentence1")),
                                     textB: std(try string(o, "sentence2")), label: label, idx: idx,
                                     meta: ["word": try field(o, "word")])]
        case .boolq:
            let idx = try field(o, "idx")
            let label: SuperGLUEValue = o["label"].map { .string($0.pythonString.lowercased()) } ?? .null
            return [SuperGLUEExample(guid: "\(set)-\(idx.pythonString)", textA: std(try string(o, "passage")),
                                     textB: std(try string(o, "question")), label: label, idx: idx)]
        case .copa:
            let idx = try field(o, "idx")
            return [SuperGLUEExample(guid: "\(set)-\(idx.pythonString)", textA: try string(o, "premise"), label: o["label"] ?? .null,
                                     idx: idx, meta: ["choice1": .string(try string(o, "choice1")), "choice2": .string(try string(o, "choice2")),
                                                      "question": try field(o, "question")])]
        case .multirc:
            return try readMultiRC(o)
        case .wsc:
            return try readWSC(o)
        case .record:
            return try readReCoRD(o)
        }
    }

    func readMultiRC(_ o: [String: SuperGLUEValue]) throws -> [SuperGLUEExample] {
        let std = SuperGLUEText.standardize
        let passageIdx = try field(o, "idx")
        let passage = try object(o, "passage")
        let text = std(try string(passage, "text"))
        var out: [SuperGLUEExample] = []
        for q in try list(passage, "questions") {
            let question = std(try string(q, "question"))
            let questionIdx = try field(q, "idx")
            for a in try list(q, "answers") {
                let answerIdx = try field(a, "idx")
                let guid = "\(split.rawValue)-p\(passageIdx.pythonString)-q\(questionIdx.pythonString)-a\(answerIdx.pythonString)"
                out.append(SuperGLUEExample(guid: guid, textA: text, textB: question, label: a["label"] ?? .null,
                                            idx: .array([passageIdx, questionIdx, answerIdx]),
                                            meta: ["passage_idx": passageIdx, "question_idx": questionIdx, "answer_idx": answerIdx,
                                                   "answer": .string(std(try string(a, "text")))]))
            }
        }
        return out
    }

    func readWSC(_ o: [String: SuperGLUEValue]) throws -> [SuperGLUEExample] {
        let idx = try field(o, "idx")
        let label: SuperGLUEValue = o["label"].map { .string($0.pythonString) } ?? .null
        let guid = "\(split.rawValue)-\(idx.pythonString)"
        var textA = SuperGLUEText.standardize(try string(o, "text"))
        let target = try object(o, "target")
        let span1Text = try string(target, "span1_text"), span2Text = try string(target, "span2_text")
        var span1Index = try int(target, "span1_index"), span2Index = try int(target, "span2_index")
        var candidates: [String]? = nil
        if o["candidates"] != nil {
            var seen: [String] = []
            for c in try list(o, "candidates") {
                let t = try string(c, "text")
                if !seen.contains(t) { seen.append(t) }
            }
            candidates = seen
        }
        // The dataset's span indices are off by one in places: the original shifts them by -1/+1 where the
        // words match there (Python slices and indices, negative ones included).
        var words = PythonText.splitWhitespace(textA)
        let wordsLower = PythonText.splitWhitespace(SuperGLUEText.lower(textA))
        let span1Words = PythonText.splitWhitespace(SuperGLUEText.lower(span1Text))
        if SuperGLUEText.sliceArray(wordsLower, span1Index, span1Index + span1Words.count) != span1Words {
            for offset in [-1, 1] {
                if SuperGLUEText.sliceArray(wordsLower, span1Index + offset, span1Index + span1Words.count + offset) == span1Words {
                    span1Index += offset
                }
            }
        }
        func word(_ i: Int) throws -> String {
            guard let j = SuperGLUEText.index(i, count: words.count) else {
                throw fail("span2_index \(i) is outside the \(words.count) words of the text (the original raises IndexError)")
            }
            return words[j]
        }
        if try word(span2Index) != span2Text {
            for offset in [-1, 1] {
                if try word(span2Index + offset) == span2Text { span2Index += offset }
            }
            let w = try word(span2Index)
            if w != span2Text && w.unicodeScalars.starts(with: span2Text.unicodeScalars) {
                // A pronoun glued to punctuation ("him.") becomes two words, which changes the text.
                let j = SuperGLUEText.index(span2Index, count: words.count)!
                let n = span2Text.unicodeScalars.count
                let head = PythonText.string(w.unicodeScalars.prefix(n)), tail = PythonText.string(w.unicodeScalars.dropFirst(n))
                words = Array(words[..<j]) + [head, tail] + Array(words[(j + 1)...])
            }
        }
        guard try word(span2Index) == span2Text else {
            throw fail("expected \"\(span2Text)\" at word \(span2Index) of \"\(textA)\" (the original asserts)")
        }
        textA = words.joined(separator: " ")
        var meta: [String: SuperGLUEValue] = ["span1_text": .string(span1Text), "span2_text": .string(span2Text),
                                              "span1_index": .int(span1Index), "span2_index": .int(span2Index)]
        if split == .train && label != .string("True") { return [] }
        if split == .train, let cands = candidates, cands.count > 9 {
            var out: [SuperGLUEExample] = []
            for start in stride(from: 0, to: cands.count, by: 9) {
                var chunk = Array(cands[start..<min(start + 9, cands.count)])
                if chunk.count < 9 { chunk += cands.prefix(9 - chunk.count) }
                var m = meta
                m["candidates"] = .array(chunk.map { .string($0) })
                out.append(SuperGLUEExample(guid: guid, textA: textA, label: label, idx: idx, meta: m))
            }
            return out
        }
        if let cands = candidates { meta["candidates"] = .array(cands.map { .string($0) }) }
        return [SuperGLUEExample(guid: guid, textA: textA, label: label, idx: idx, meta: meta)]
    }

    mutating func readReCoRD(_ o: [String: SuperGLUEValue]) throws -> [SuperGLUEExample] {
        let std = SuperGLUEText.standardize
        let idx = try field(o, "idx")
        let passage = try object(o, "passage")
        var text = std(try string(passage, "text"))
        var entitySet = Set<String>()
        for e in try list(passage, "entities") {
            entitySet.insert(std(SuperGLUEText.slice(text, try int(e, "start"), try int(e, "end") + 1)))
        }
        let entities = entitySet.sorted(by: SuperGLUEText.pythonLess)
        text = PythonText.string(PythonText.replace(Array(text.unicodeScalars), "@highlight\n", "- "))
        var out: [SuperGLUEExample] = []
        for q in try list(o, "qas") {
            let question = std(try string(q, "query"))
            let questionIdx = try field(q, "idx")
            var answers: [String] = []
            for a in try (q["answers"] == nil ? [] : list(q, "answers")) {
                let answer = std(try string(a, "text"))
                if !answers.contains(answer) { answers.append(answer) }
            }
            answers = answerOrder(answers)
            if split == .train {
                for (answerIdx, answer) in answers.enumerated() {
                    var candidates = entities.filter { !answers.contains($0) }
                    if candidates.count > 9 {
                        shuffler.shuffle(&candidates)
                        candidates = Array(candidates.prefix(9))
                    }
                    out.append(SuperGLUEExample(
                        guid: "\(split.rawValue)-p\(idx.pythonString)-q\(questionIdx.pythonString)-a\(answerIdx)",
                        textA: text, textB: question, label: .string("0"), idx: .array([idx, questionIdx, .int(answerIdx)]),
                        numChoices: candidates.count + 1,
                        meta: ["passage_idx": idx, "question_idx": questionIdx,
                               "candidates": .array(([answer] + candidates).map { .string($0) }), "answers": .array([.string(answer)])]))
                }
            } else {
                out.append(SuperGLUEExample(
                    guid: "\(split.rawValue)-p\(idx.pythonString)-q\(questionIdx.pythonString)",
                    textA: text, textB: question, label: .string("1"), idx: questionIdx, numChoices: entities.count,
                    meta: ["passage_idx": idx, "question_idx": questionIdx,
                           "candidates": .array(entities.map { .string($0) }), "answers": .array(answers.map { .string($0) })]))
            }
        }
        return out
    }
}
