/// One sequence-to-sequence example: the original's `InputExample` (`guid`, `text_a`, `text_b`,
/// `meta.ref`; `label` is None, `idx` -1 and `num_choices` 1 for every seq2seq example) plus where it
/// came from, for error messages.
public struct Seq2SeqExample: Sendable, Equatable {
    /// `"<split>-<index>"` (`train-0`, `dev-3`...): the sample's `uid`.
    public var guid: String
    /// `text_a`: the source (blank test: the `.blank` line with `[MASK]`s).
    public var source: String
    /// `text_b`: the target.
    public var target: String
    /// `meta.ref`: the reference the metrics compare with. Summarization:
    /// `DecodeIds(EncodeAsIds(target))` (so lower-cased by BERT); customization and blank: the target.
    public var ref: String
    /// The file and 1-based line the example was read from (XSum: the `.summary` file, line 0).
    public var file: String
    public var line: Int

    public init(guid: String, source: String, target: String, ref: String, file: String = "<input>", line: Int = 0) {
        self.guid = guid
        self.source = source
        self.target = target
        self.ref = ref
        self.file = file
        self.line = line
    }

    /// `file:line` of the example.
    public var origin: String { "\(file):\(line)" }
}

/// Errors of the seq2seq readers and encoder that point at a data line (one type for every task reader).
public typealias Seq2SeqDataError = TaskDataError

/// An input the encoder cannot turn into a sample (or a tokenizer that lacks a command token).
public enum Seq2SeqError: Error, CustomStringConvertible, Equatable {
    case tokenizer(String)
    case configuration(String)
    case input(String)
    public var description: String {
        switch self {
        case .tokenizer(let m): return "seq2seq: tokenizer: \(m)"
        case .configuration(let m): return "seq2seq: \(m)"
        case .input(let m): return "seq2seq: \(m)"
        }
    }
}
