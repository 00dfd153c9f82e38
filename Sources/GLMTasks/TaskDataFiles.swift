import Foundation

/// A bad task data file or line, printed as `FILE:LINE: reason` (line 0: the file as a whole). One type
/// for every task reader, so a user sees the same shape of message whatever the task.
public struct TaskDataError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var line: Int
    public var reason: String
    public var description: String { "\(file):\(line): \(reason)" }

    public init(file: String, line: Int, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }
}

/// Reading the task data formats the original reads (JSON Lines, plain text) with errors that name the
/// file and the line.
public enum TaskDataFiles {
    /// The whole file as UTF-8 text.
    public static func text(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TaskDataError(file: path, line: 0, reason: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TaskDataError(file: path, line: 0, reason: "not UTF-8 text")
        }
        return text
    }

    /// Every line of `text` that is not whitespace only, with its 1-based number, through `parse`.
    /// (The original crashes on blank lines of a JSON Lines file; skipping them is the kinder reading.)
    public static func nonBlankLines<T>(_ text: String, parse: (String, Int) throws -> T) rethrows -> [(line: Int, value: T)] {
        var out: [(line: Int, value: T)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy(\.isWhitespace) {
            out.append((i + 1, try parse(String(line), i + 1)))
        }
        return out
    }

    /// One line of a JSON Lines file as an object; malformed JSON or another JSON value is a
    /// `TaskDataError` naming the file and line (with the parser's own message).
    public static func jsonObject(_ line: String, file: String, line number: Int) throws -> [String: Any] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])
        } catch {
            let ns = error as NSError
            let detail = ns.userInfo[NSDebugDescriptionErrorKey] as? String ?? ns.localizedDescription
            throw TaskDataError(file: file, line: number, reason: "malformed JSON (\(detail))")
        }
        guard let dict = object as? [String: Any] else {
            throw TaskDataError(file: file, line: number, reason: "expected a JSON object")
        }
        return dict
    }
}
