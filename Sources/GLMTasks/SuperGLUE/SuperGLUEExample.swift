import Foundation

/// A JSON value as the original's processors see it after `json.loads`: labels, `idx` and `meta` entries
/// keep their JSON type (COPA labels are ints, RTE labels strings, MultiRC `idx` a list), because the
/// original formats them with Python's `str()` (guids) and compares them by value (`label_list.index`).
public enum SuperGLUEValue: Sendable, Hashable, Decodable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([SuperGLUEValue])
    case object([String: SuperGLUEValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int.self) { self = .int(i) }
        else if let d = try? c.decode(Double.self) { self = .double(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([SuperGLUEValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: SuperGLUEValue].self)) }
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var int: Int? { if case .int(let i) = self { return i }; return nil }
    public var array: [SuperGLUEValue]? { if case .array(let a) = self { return a }; return nil }
    public var object: [String: SuperGLUEValue]? { if case .object(let o) = self { return o }; return nil }
    public var strings: [String]? { array?.compactMap(\.string) }

    /// Python's `str(value)` for the scalar cases (`True`, `42`, `'text'` without quotes); lists and dicts as
    /// Python's `repr` would print simple ones (only used in messages and guids of odd inputs).
    public var pythonString: String {
        switch self {
        case .null: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return "\(d)"
        case .string(let s): return s
        case .array(let a): return "[" + a.map { $0.string.map { "'\($0)'" } ?? $0.pythonString }.joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "'\($0)': \(o[$0]!.pythonString)" }.joined(separator: ", ") + "}"
        }
    }

    /// Python truthiness (`if value:`).
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        }
    }

    public var description: String { pythonString }

    /// The Foundation object `JSONSerialization` would produce (for comparisons with fixture JSON).
    public var foundationObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return NSNumber(value: b)
        case .int(let i): return NSNumber(value: i)
        case .double(let d): return NSNumber(value: d)
        case .string(let s): return s
        case .array(let a): return a.map(\.foundationObject)
        case .object(let o): return o.mapValues(\.foundationObject)
        }
    }
}

/// One example as the original's `InputExample` (`tasks/data_utils.py`): what a processor reads from a
/// line of the official jsonl, before a pattern-verbalizer pair turns it into text.
public struct SuperGLUEExample: Sendable, Equatable {
    /// `"<split>-<idx>"` (MultiRC / ReCoRD: `"<split>-p<passage>-q<question>[-a<answer>]"`; COPA mirrors add `m`).
    public var guid: String
    public var textA: String
    public var textB: String?
    /// The raw label (`.null` where the line has none); an element of the processor's label list.
    public var label: SuperGLUEValue
    /// The original's `idx` (an int, a parsed string, `[passage, question, answer]`, or -1 for COPA mirrors).
    public var idx: SuperGLUEValue
    /// Only ReCoRD sets it (the number of candidates); the dataset sorts by it.
    public var numChoices: Int
    /// Task-specific fields (`choice1`, `span2_index`, `candidates`, …).
    public var meta: [String: SuperGLUEValue]

    public init(guid: String, textA: String, textB: String? = nil, label: SuperGLUEValue = .null,
                idx: SuperGLUEValue = .int(-1), numChoices: Int = 1, meta: [String: SuperGLUEValue] = [:]) {
        self.guid = guid; self.textA = textA; self.textB = textB; self.label = label
        self.idx = idx; self.numChoices = numChoices; self.meta = meta
    }

    /// `InputExample.to_dict()` without `logits` (always None here).
    public var jsonValue: SuperGLUEValue {
        .object(["guid": .string(guid), "text_a": .string(textA), "text_b": textB.map { .string($0) } ?? .null, "label": label,
                 "idx": idx, "num_choices": .int(numChoices), "meta": .object(meta)])
    }

    func metaString(_ key: String) throws -> String {
        guard let s = meta[key]?.string else { throw SuperGLUEError.example(guid: guid, reason: "meta field \"\(key)\" is missing or not a string") }
        return s
    }

    func metaInt(_ key: String) throws -> Int {
        guard let i = meta[key]?.int else { throw SuperGLUEError.example(guid: guid, reason: "meta field \"\(key)\" is missing or not an integer") }
        return i
    }
}

/// Errors of the SuperGLUE readers and pattern-verbalizer pairs.
public enum SuperGLUEError: Error, CustomStringConvertible, Equatable {
    /// A bad line of a data file: file and 1-based line.
    case data(file: String, line: Int, reason: String)
    /// An example the pattern-verbalizer pair cannot encode (the original would crash or assert).
    case example(guid: String, reason: String)
    /// A configuration the original does not have (pattern id, task, tokenizer lacking a command token).
    case configuration(String)

    public var description: String {
        switch self {
        case .data(let file, let line, let reason): return "\(file):\(line): \(reason)"
        case .example(let guid, let reason): return "SuperGLUE example \(guid): \(reason)"
        case .configuration(let m): return "SuperGLUE: \(m)"
        }
    }
}
