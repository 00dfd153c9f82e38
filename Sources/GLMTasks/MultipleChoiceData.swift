import Foundation

/// One line of a zero-shot multiple-choice file, in the field layout the original's
/// `tasks/superglue/dataset.py MultiChoiceDataset` reads: `inputs_pretokenized` (the question, possibly
/// with a `[MASK]` where the answer goes), `choices_pretokenized` (answer texts) and an optional `label`
/// (index of the right choice; missing means 0, as the original's `item.get("label", 0)`).
public struct MultipleChoiceItem: Sendable, Equatable {
    public var inputs: String
    public var choices: [String]
    public var label: Int

    public init(inputs: String, choices: [String], label: Int = 0) {
        self.inputs = inputs
        self.choices = choices
        self.label = label
    }
}

/// A bad multiple-choice file: always names the file and the 1-based line, so a bad line in a large
/// data set can be found without bisecting.
/// Errors of the multiple-choice reader (one type for every task reader).
public typealias MultipleChoiceDataError = TaskDataError

/// Reading multiple-choice JSON Lines files.
public enum MultipleChoiceData {
    /// Every non-blank line of `path` as an item (whitespace-only lines are skipped; the original would
    /// crash on them). Items keep file order: their index is the original's `uid`.
    public static func read(_ path: String) throws -> [MultipleChoiceItem] {
        try readNumbered(path).map(\.item)
    }

    /// As `read`, with each item's 1-based line number (for error messages about later stages).
    public static func readNumbered(_ path: String) throws -> [(line: Int, item: MultipleChoiceItem)] {
        try TaskDataFiles.nonBlankLines(try TaskDataFiles.text(path)) { line, number in
            try parse(line, file: path, line: number)
        }.map { (line: $0.line, item: $0.value) }
    }

    /// One JSON line. `label` may be an integer or an integer string (the original passes it through
    /// `int()`); it must index a choice.
    public static func parse(_ line: String, file: String = "<input>", line number: Int = 1) throws -> MultipleChoiceItem {
        func fail(_ reason: String) -> MultipleChoiceDataError { MultipleChoiceDataError(file: file, line: number, reason: reason) }
        let dict = try TaskDataFiles.jsonObject(line, file: file, line: number)
        guard let raw = dict["inputs_pretokenized"] else { throw fail("missing field \"inputs_pretokenized\"") }
        guard let inputs = raw as? String else { throw fail("\"inputs_pretokenized\" must be a string") }
        guard let rawChoices = dict["choices_pretokenized"] else { throw fail("missing field \"choices_pretokenized\"") }
        guard let choices = rawChoices as? [String] else { throw fail("\"choices_pretokenized\" must be a list of strings") }
        guard !choices.isEmpty else { throw fail("\"choices_pretokenized\" is empty") }
        var label = 0
        if let l = dict["label"], !(l is NSNull) {
            if let s = l as? String, let v = Int(s.trimmingCharacters(in: .whitespaces)) { label = v }
            else if let n = l as? NSNumber, n.doubleValue == Double(n.intValue) { label = n.intValue }
            else { throw fail("\"label\" must be an integer, got \(l)") }
        }
        guard choices.indices.contains(label) else {
            throw fail("label \(label) is not the index of one of the \(choices.count) choices")
        }
        return MultipleChoiceItem(inputs: inputs, choices: choices, label: label)
    }
}
