// Reading vocabulary files the way the original's Python reads them, but forgiving: invalid UTF-8 is
// replaced (U+FFFD) instead of raising, and every failure names the file.
import Foundation
import GLMSupport

enum TextFiles {
    static func readBytes(_ url: URL) throws -> [UInt8] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw TokenizerError.missingFile(path: url.path)
        }
        do {
            let data = try Data(contentsOf: url)
            return [UInt8](data)
        } catch {
            throw TokenizerError.unreadableFile(path: url.path, reason: "\(error)")
        }
    }

    /// The file as text, malformed UTF-8 replaced by U+FFFD.
    static func readText(_ url: URL) throws -> String {
        stringFromUTF8(try readBytes(url))
    }

    /// Lines as Python's text-mode `readline()` yields them: universal newlines (\n, \r\n, \r),
    /// without the terminators; a final newline does not start an extra line.
    static func universalLines(_ text: String) -> [Substring] {
        TextLines.split(text, keepingFinalEmptyLine: false)
    }

    /// Python's `text.split('\n')` after text-mode newline translation (\r\n and \r become \n);
    /// empty pieces are kept.
    static func splitOnNewlines(_ text: String) -> [Substring] {
        TextLines.split(text, keepingFinalEmptyLine: true)
    }

    /// Python `str.strip()` (whitespace as `str.isspace` defines it).
    static func pythonStrip(_ s: Substring) -> String {
        let scalars = Array(s.unicodeScalars)
        var a = 0, b = scalars.count
        while a < b && isPythonSpace(scalars[a].value) { a += 1 }
        while b > a && isPythonSpace(scalars[b - 1].value) { b -= 1 }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars[a..<b])
        return String(out)
    }

    /// Python `str.split()` with no argument.
    static func pythonSplit(_ s: Substring) -> [String] {
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            if isPythonSpace(c.value) {
                if !current.isEmpty { parts.append(String(current)); current = String.UnicodeScalarView() }
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { parts.append(String(current)) }
        return parts
    }
}
