/// Splits text into lines at universal newlines (\n, \r\n, \r), without the terminators. WHY one
/// splitter: the vocab readers need both Python's `readline()` view and its `split('\n')` view of a
/// text-mode file, which differ only in whether a final newline starts one more (empty) line.
public enum TextLines {
    /// `keepingFinalEmptyLine` false: like iterating `readline()` (a final newline ends the last line,
    /// empty text has no lines). true: like `text.split('\n')` after newline translation (always one
    /// more piece than there are newlines; empty pieces kept).
    public static func split(_ text: String, keepingFinalEmptyLine: Bool) -> [Substring] {
        var lines: [Substring] = []
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var i = start
        while i != scalars.endIndex {
            let c = scalars[i]
            if c == "\n" || c == "\r" {
                lines.append(Substring(scalars[start..<i]))
                var next = scalars.index(after: i)
                if c == "\r", next != scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                start = next
                i = next
            } else {
                i = scalars.index(after: i)
            }
        }
        if keepingFinalEmptyLine || start != scalars.endIndex { lines.append(Substring(scalars[start..<scalars.endIndex])) }
        return lines
    }
}
