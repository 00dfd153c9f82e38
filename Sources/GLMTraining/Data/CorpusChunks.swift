// Reading corpora: cutting input files into chunks at record boundaries, and the records of a chunk.
//
// WHY chunks: they are the unit of parallel work and of resumption. Chunk boundaries depend only on the
// file's bytes and the chunk size, so a restarted run plans the same chunks and can skip finished ones,
// and concatenating chunk results in order gives the same bytes whatever the number of workers.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How an input file holds documents.
public enum CorpusFormat: String, Sendable, Codable, CaseIterable {
    /// One JSON object per line with a string field `text` (the original's loose-JSON corpora).
    case jsonl
    /// Plain text; documents are separated by blank (whitespace-only) lines.
    case text

    /// By extension: .jsonl / .json are JSON lines, anything else is plain text.
    public static func guess(path: String) -> CorpusFormat {
        let ext = (path as NSString).pathExtension.lowercased()
        return ext == "jsonl" || ext == "json" ? .jsonl : .text
    }
}

/// A byte range of one input file that starts and ends at record boundaries.
struct CorpusChunk: Sendable, Equatable {
    var input: Int
    var byteRange: Range<Int>
    /// 1-based number of the chunk's first line in the file.
    var firstLine: Int
}

/// What reading a chunk yields, in file order.
enum CorpusRecord {
    case document(line: Int, text: String)
    /// A line (or document) that is not used; `warn` is false for harmless ones (blank JSONL lines).
    case skipped(line: Int, reason: String, warn: Bool)
    /// A problem that was repaired (the document is kept).
    case repaired(line: Int, reason: String)
}

enum CorpusReader {
    /// Cuts `bytes` into chunks of at least `chunkBytes` (except the last), each ending after a newline;
    /// for plain text only after a blank line, so no document is split.
    static func plan(bytes: UnsafeRawBufferPointer, input: Int, format: CorpusFormat, chunkBytes: Int) -> [CorpusChunk] {
        var chunks: [CorpusChunk] = []
        var chunkStart = 0, chunkFirstLine = 1
        var lineStart = 0, line = 1
        let n = bytes.count
        while lineStart < n {
            let lineEnd = nextNewline(bytes, from: lineStart).map { $0 + 1 } ?? n   // after the newline
            let isBoundary: Bool
            if lineEnd - chunkStart < chunkBytes || lineEnd == n {
                isBoundary = false
            } else {
                isBoundary = format == .jsonl || isBlank(bytes, lineStart..<lineEnd)
            }
            if isBoundary {
                chunks.append(CorpusChunk(input: input, byteRange: chunkStart..<lineEnd, firstLine: chunkFirstLine))
                chunkStart = lineEnd
                chunkFirstLine = line + 1
            }
            lineStart = lineEnd
            line += 1
        }
        if chunkStart < n || chunks.isEmpty {
            chunks.append(CorpusChunk(input: input, byteRange: chunkStart..<n, firstLine: chunkFirstLine))
        }
        return chunks
    }

    /// Reads the records of one chunk (`bytes` is the whole file).
    static func records(bytes: UnsafeRawBufferPointer, chunk: CorpusChunk, format: CorpusFormat,
                        body: (CorpusRecord) throws -> Void) rethrows {
        var lineStart = chunk.byteRange.lowerBound
        // A UTF-8 byte-order mark at the start of a file is not text.
        if lineStart == 0, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { lineStart = 3 }
        var line = chunk.firstLine
        // Plain text: the lines of the document being collected.
        var documentLines: [Range<Int>] = []
        var documentFirstLine = 0

        func flushDocument() throws {
            guard !documentLines.isEmpty else { return }
            var data: [UInt8] = []
            for (i, r) in documentLines.enumerated() {
                if i > 0 { data.append(0x0A) }
                data.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[r]))
            }
            documentLines.removeAll()
            if let text = String(validatingUTF8Bytes: data) {
                try body(.document(line: documentFirstLine, text: text))
            } else {
                try body(.repaired(line: documentFirstLine, reason: "invalid UTF-8 replaced by U+FFFD"))
                try body(.document(line: documentFirstLine, text: String(decoding: data, as: UTF8.self)))
            }
        }

        while lineStart < chunk.byteRange.upperBound {
            let newline = nextNewline(bytes, from: lineStart, limit: chunk.byteRange.upperBound)
            let next = newline.map { $0 + 1 } ?? chunk.byteRange.upperBound
            var content = lineStart..<(newline ?? chunk.byteRange.upperBound)
            if content.count > 0, bytes[content.upperBound - 1] == 0x0D { content = content.lowerBound..<(content.upperBound - 1) }
            switch format {
            case .jsonl:
                try body(jsonRecord(UnsafeRawBufferPointer(rebasing: bytes[content]), line: line))
            case .text:
                if isBlank(bytes, content) {
                    try flushDocument()
                } else {
                    if documentLines.isEmpty { documentFirstLine = line }
                    documentLines.append(content)
                }
            }
            lineStart = next
            line += 1
        }
        try flushDocument()
    }

    /// One JSON line → a document or the reason it is skipped.
    static func jsonRecord(_ bytes: UnsafeRawBufferPointer, line: Int) -> CorpusRecord {
        if isBlank(bytes, 0..<bytes.count) { return .skipped(line: line, reason: "blank line", warn: false) }
        guard String(validatingUTF8Bytes: Array(bytes)) != nil else {
            return .skipped(line: line, reason: "invalid UTF-8", warn: true)
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            return .skipped(line: line, reason: "malformed JSON", warn: true)
        }
        guard let dict = object as? [String: Any] else { return .skipped(line: line, reason: "not a JSON object", warn: true) }
        guard let value = dict["text"] else { return .skipped(line: line, reason: "no \"text\" field", warn: true) }
        guard let text = value as? String else { return .skipped(line: line, reason: "\"text\" is not a string", warn: true) }
        if text.allSatisfy(\.isWhitespace) { return .skipped(line: line, reason: "empty text", warn: true) }
        return .document(line: line, text: text)
    }

    static func nextNewline(_ bytes: UnsafeRawBufferPointer, from start: Int, limit: Int? = nil) -> Int? {
        let end = limit ?? bytes.count
        guard start < end, let base = bytes.baseAddress else { return nil }
        guard let hit = memchr(base + start, 0x0A, end - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(hit))
    }

    /// Only spaces, tabs, CR, LF, FF, VT.
    static func isBlank(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        for i in range {
            switch bytes[i] {
            case 0x20, 0x09, 0x0D, 0x0A, 0x0B, 0x0C: continue
            default: return false
            }
        }
        return true
    }
}

extension String {
    /// nil unless `bytes` is valid UTF-8.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        var it = bytes.makeIterator()
        var decoder = UTF8()
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: break loop
            case .error: return nil
            }
        }
        self = String(decoding: bytes, as: UTF8.self)
    }
}

/// The original's `punctuation_standardization` (English corpora): curly quotes and the en dash.
func standardizePunctuation(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: { ["\u{201C}", "\u{201D}", "\u{2019}", "\u{2018}", "\u{2013}"].contains($0) }) else { return text }
    var scalars = String.UnicodeScalarView()
    for s in text.unicodeScalars {
        switch s {
        case "\u{201C}", "\u{201D}": scalars.append("\"")
        case "\u{2019}", "\u{2018}": scalars.append("'")
        case "\u{2013}": scalars.append("-")
        default: scalars.append(s)
        }
    }
    return String(scalars)
}
