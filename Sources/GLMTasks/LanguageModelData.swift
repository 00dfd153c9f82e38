import Foundation
import GLMTokenizers

/// Errors of the LAMBADA and language-model readers (one type for every task reader).
public typealias LanguageModelDataError = TaskDataError

/// The token documents of a perplexity task with the original's token counts.
public struct LanguageModelCorpus: Sendable, Equatable {
    public var documents: [[Int]]
    /// 1-based source line of each document (wikitext: 1, the whole file is one document).
    public var lines: [Int]
    /// `num_original_tokens`: `len(text.strip().split(" "))` of the file BEFORE detokenisation (wikitext)
    /// or summed over the stripped lines (language_model). Single spaces separate, so double spaces add
    /// empty "tokens", as in the original.
    public var numOriginalTokens: Int
    /// `num_tokenized_tokens`: all document tokens.
    public var numTokenizedTokens: Int
    /// The detokenised text (wikitext only).
    public var detokenizedText: String?

    static func readText(_ path: String) throws -> String { try TaskDataFiles.text(path) }

    /// `--task wikitext` (`build_wikitext103_dataset`): the whole file is one document, detokenised with
    /// `WikitextDetokenizer` and tokenised in one piece.
    public static func wikitext(file path: String, tokenizer: any Tokenizer) throws -> LanguageModelCorpus {
        try wikitext(text: try readText(path), tokenizer: tokenizer, file: path)
    }

    public static func wikitext(text: String, tokenizer: any Tokenizer, file: String = "<input>") throws -> LanguageModelCorpus {
        let original = PythonText.countSpaceSeparated(PythonText.strip(text))
        let detokenized = WikitextDetokenizer.detokenize(text)
        let ids = tokenizer.encode(detokenized)
        let corpus = LanguageModelCorpus(documents: [ids], lines: [1], numOriginalTokens: original,
                                         numTokenizedTokens: ids.count, detokenizedText: detokenized)
        try corpus.check(file: file)
        return corpus
    }

    /// `--task language_model` (`build_lm_dataset`): one document per line (Python's universal newlines:
    /// `\n`, `\r\n` or `\r` end a line), each stripped and tokenised on its own.
    public static func lines(file path: String, tokenizer: any Tokenizer) throws -> LanguageModelCorpus {
        try lines(text: try readText(path), tokenizer: tokenizer, file: path)
    }

    public static func lines(text: String, tokenizer: any Tokenizer, file: String = "<input>") throws -> LanguageModelCorpus {
        var corpus = LanguageModelCorpus(documents: [], lines: [], numOriginalTokens: 0, numTokenizedTokens: 0, detokenizedText: nil)
        for (i, line) in splitLines(text).enumerated() {
            let stripped = PythonText.strip(line)
            let ids = tokenizer.encode(stripped)
            corpus.documents.append(ids)
            corpus.lines.append(i + 1)
            corpus.numTokenizedTokens += ids.count
            corpus.numOriginalTokens += PythonText.countSpaceSeparated(stripped)
        }
        try corpus.check(file: file)
        return corpus
    }

    /// Lines as Python's text-mode iteration gives them (no empty line after a final newline).
    static func splitLines(_ text: String) -> [String] {
        var out: [String] = [], cur = String.UnicodeScalarView(), pendingCR = false
        for c in text.unicodeScalars {
            if pendingCR {
                pendingCR = false
                if c == "\n" { continue }
            }
            if c == "\n" || c == "\r" {
                out.append(String(cur)); cur = String.UnicodeScalarView()
                pendingCR = c == "\r"
            } else {
                cur.append(c)
            }
        }
        if !cur.isEmpty { out.append(String(cur)) }
        return out
    }

    /// Inputs the original cannot evaluate: a document of fewer than 2 tokens (it builds a malformed
    /// sample and crashes) and counts that make its metrics divide by zero.
    func check(file: String) throws {
        if let d = documents.firstIndex(where: { $0.count < 2 }) {
            throw LanguageModelDataError(file: file, line: lines[d], reason: documents[d].isEmpty
                ? "empty document (remove blank lines; the original crashes on them)"
                : "a document of one token has nothing to score (the original crashes on it)")
        }
        if documents.isEmpty { throw LanguageModelDataError(file: file, line: 0, reason: "no documents") }
        if numOriginalTokens < 2 {
            throw LanguageModelDataError(file: file, line: 0, reason: "fewer than 2 original tokens (adjusted ppl divides by num_original_tokens - 1)")
        }
    }
}

/// Reading LAMBADA JSON Lines files (`{"text": ...}` per line).
public enum LambadaData {
    /// Every non-blank line's `text` with its 1-based line number (whitespace-only lines are skipped; the
    /// original's `json.loads` fails on them).
    public static func read(_ path: String) throws -> [(line: Int, text: String)] {
        let text = try LanguageModelCorpus.readText(path)
        let out = try TaskDataFiles.nonBlankLines(text) { line, number in try parse(line, file: path, line: number) }
            .map { (line: $0.line, text: $0.value) }
        if out.isEmpty { throw LanguageModelDataError(file: path, line: 0, reason: "no items") }
        return out
    }

    public static func parse(_ line: String, file: String = "<input>", line number: Int = 1) throws -> String {
        func fail(_ reason: String) -> LanguageModelDataError { LanguageModelDataError(file: file, line: number, reason: reason) }
        let dict = try TaskDataFiles.jsonObject(line, file: file, line: number)
        guard let raw = dict["text"] else { throw fail("missing field \"text\"") }
        guard let text = raw as? String else { throw fail("\"text\" must be a string") }
        guard LambadaEncoder.splitLastWord(text) != nil else { throw fail("\"text\" has no word") }
        return text
    }
}
