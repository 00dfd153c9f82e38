import Foundation

/// The XSum layout the original's `XSumProcessor` reads: a split file
/// `XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json` (`{"train": [ids], "validation": [...], "test": [...]}`)
/// and one `<id>.summary` per document with `[SN]NAME[SN]` section headers (`URL`, `TITLE`,
/// `FIRST-SENTENCE` = the target, `RESTBODY` = the source).
public enum XSumData {
    public static let splitFile = "XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json"

    /// The key of a split in the split file.
    public static func key(_ split: Seq2SeqSplit) -> String {
        switch split {
        case .train: return "train"
        case .dev: return "validation"
        case .test: return "test"
        }
    }

    /// The document ids of a split, as the original formats them into file names (`f"{idx}"`): strings
    /// as they are, integers in decimal.
    public static func ids(file: String, split: Seq2SeqSplit) throws -> [String] {
        func fail(_ reason: String) -> Seq2SeqDataError { Seq2SeqDataError(file: file, line: 0, reason: reason) }
        let text = try Seq2SeqData.text(file)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        } catch {
            let ns = error as NSError
            throw fail("malformed JSON (\(ns.userInfo[NSDebugDescriptionErrorKey] as? String ?? ns.localizedDescription))")
        }
        guard let dict = object as? [String: Any] else { throw fail("expected a JSON object") }
        let k = key(split)
        guard let raw = dict[k] else { throw fail("missing key \"\(k)\" (the ids of split \(split.rawValue))") }
        guard let list = raw as? [Any] else { throw fail("\"\(k)\" must be a list of ids") }
        return try list.enumerated().map { i, v in
            if let s = v as? String { return s }
            if let n = v as? NSNumber, n.doubleValue == Double(n.int64Value) {
                return String(n.int64Value)
            }
            throw fail("\"\(k)\"[\(i)] must be a string or an integer id, got \(v)")
        }
    }

    /// One parsed `.summary` document.
    public struct Document: Sendable, Equatable {
        /// `RESTBODY`: its non-empty stripped lines joined by single spaces.
        public var source: String
        /// `FIRST-SENTENCE`, the same way.
        public var target: String
        /// 1-based line of the `RESTBODY` header.
        public var line: Int
    }

    /// Parses a `.summary` file: every stripped line starting with `[SN]` opens a section named
    /// `line[4:-4]`; non-empty lines are that section's sentences. A repeated section overwrites the
    /// earlier one. A file without `FIRST-SENTENCE` or `RESTBODY` throws (the original crashes later).
    public static func parse(file: String) throws -> Document {
        try parse(text: try Seq2SeqData.text(file), file: file)
    }

    public static func parse(text: String, file: String = "<input>") throws -> Document {
        var key: String? = nil, keyLine = 0, sentences: [String] = []
        var source: String? = nil, target: String? = nil, sourceLine = 0
        func close() {
            if key == "RESTBODY" { source = sentences.joined(separator: " "); sourceLine = keyLine }
            else if key == "FIRST-SENTENCE" { target = sentences.joined(separator: " ") }
        }
        for (i, raw) in LanguageModelCorpus.splitLines(text).enumerated() {
            let line = PythonText.strip(raw)
            if line.unicodeScalars.starts(with: "[SN]".unicodeScalars) {
                if key != nil { close() }
                let u = Array(line.unicodeScalars)
                key = u.count > 8 ? PythonText.string(u[4..<(u.count - 4)]) : ""
                keyLine = i + 1
                sentences = []
            } else if !line.isEmpty {
                sentences.append(line)
            }
        }
        if key != nil { close() }
        guard let t = target else { throw Seq2SeqDataError(file: file, line: 0, reason: "no [SN]FIRST-SENTENCE[SN] section (the target)") }
        guard let s = source else { throw Seq2SeqDataError(file: file, line: 0, reason: "no [SN]RESTBODY[SN] section (the source)") }
        return Document(source: s, target: t, line: sourceLine)
    }
}
