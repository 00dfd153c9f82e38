import Foundation
import GLMTokenizers

/// Reading the seq2seq data folders as the original's processors do (`SummmaryProcessor`,
/// `XSumProcessor`, `CustomizationDataset`, `BlankLMDataset`): examples in file order, `guid`
/// `"<split>-<index>"`.
///
/// Line files are read as Python's text mode does (UTF-8; `\n`, `\r\n` and `\r` end a line; no empty
/// line after a final newline) and every line is `strip()`ped; empty lines stay examples, as in the
/// original. Where a `.source` and its `.target` differ in line count the original asserts
/// (summarization) or silently drops the extra lines (`zip`: customization, blank); here both throw.
public enum Seq2SeqData {
    /// The examples of a split of `task` in `dataDirectory` (the original's `--data-dir`). The tokenizer
    /// builds summarization references (`DecodeIds(EncodeAsIds(target))`).
    public static func examples(task: Seq2SeqTask, split: Seq2SeqSplit, dataDirectory: String,
                                tokenizer: any Tokenizer) throws -> [Seq2SeqExample] {
        switch task.kind {
        case .cnnDMOriginal, .cnnDM, .gigaword:
            return try summary(task.kind, split: split, dataDirectory: dataDirectory, tokenizer: tokenizer)
        case .xsum:
            return try xsum(split: split, dataDirectory: dataDirectory, tokenizer: tokenizer)
        case .customization:
            return try customization(split: split, dataDirectory: dataDirectory)
        case .blank:
            return try blank(split: split, dataDirectory: dataDirectory, maskRatio: task.blankMaskRatio)
        }
    }

    /// File stem of a split for the `.source/.target` layouts: `train`, `val`, `test`.
    public static func stem(_ split: Seq2SeqSplit) -> String {
        switch split {
        case .train: return "train"
        case .dev: return "val"
        case .test: return "test"
        }
    }

    /// `SummmaryProcessor` (cnn_dm_original, cnn_dm, gigaword): `{stem}.source` / `{stem}.target`, each
    /// line stripped, `punctuation_standardization`, then the task's detokenizer (cnn_dm, gigaword).
    public static func summary(_ kind: Seq2SeqTaskKind, split: Seq2SeqSplit, dataDirectory: String,
                               tokenizer: any Tokenizer) throws -> [Seq2SeqExample] {
        precondition([.cnnDMOriginal, .cnnDM, .gigaword].contains(kind), "\(kind) is not a .source/.target summarization task")
        func clean(_ line: String, isTarget: Bool) -> String {
            let s = Seq2SeqDetokenizer.punctuationStandardization(PythonText.strip(line))
            switch kind {
            case .cnnDM: return Seq2SeqDetokenizer.cnnDM(s, isTarget: isTarget)
            case .gigaword: return Seq2SeqDetokenizer.gigaword(s, isTarget: isTarget)
            default: return s
            }
        }
        return try pairs(dataDirectory, stem(split), split: split).map { p in
            let source = clean(p.source, isTarget: false), target = clean(p.target, isTarget: true)
            return Seq2SeqExample(guid: p.guid, source: source, target: target,
                                  ref: tokenizer.decode(tokenizer.encode(target)), file: p.file, line: p.line)
        }
    }

    /// `CustomizationDataset`: `{stem}.source` / `{stem}.target`, lines stripped, nothing else;
    /// `meta.ref` is the target itself.
    public static func customization(split: Seq2SeqSplit, dataDirectory: String) throws -> [Seq2SeqExample] {
        try pairs(dataDirectory, stem(split), split: split).map { p in
            let target = PythonText.strip(p.target)
            return Seq2SeqExample(guid: p.guid, source: PythonText.strip(p.source), target: target, ref: target, file: p.file, line: p.line)
        }
    }

    /// `BlankLMDataset`: `train.txt` / `valid.txt` / `test.txt`, lines stripped and `blanklm_detokenize`d.
    /// Train and dev examples are the line as source and target (masked when sampled); test sources are
    /// the lines of `blank/test.maskratio{ratio:.1f}.blank` (`<blank>` already `[MASK]` after the
    /// detokenizer), targets the lines of `test.txt`.
    public static func blank(split: Seq2SeqSplit, dataDirectory: String, maskRatio: Double) throws -> [Seq2SeqExample] {
        let name: String
        switch split {
        case .train: name = "train"
        case .dev: name = "valid"
        case .test: name = "test"
        }
        let targetFile = join(dataDirectory, "\(name).txt")
        let targets = try lines(targetFile).map { Seq2SeqDetokenizer.blank(PythonText.strip($0)) }
        guard split == .test else {
            return targets.enumerated().map { i, t in
                Seq2SeqExample(guid: "\(split.rawValue)-\(i)", source: t, target: t, ref: t, file: targetFile, line: i + 1)
            }
        }
        let sourceFile = join(dataDirectory, blankTestFile(maskRatio: maskRatio))
        let sources = try lines(sourceFile).map { Seq2SeqDetokenizer.blank(PythonText.strip($0)) }
        try checkCounts(sourceFile, sources.count, targetFile, targets.count)
        return sources.indices.map { i in
            Seq2SeqExample(guid: "test-\(i)", source: sources[i], target: targets[i], ref: targets[i], file: sourceFile, line: i + 1)
        }
    }

    /// The blank test file for a mask ratio, relative to the data folder: `blank/test.maskratio0.1.blank`.
    public static func blankTestFile(maskRatio: Double) -> String {
        "blank/test.maskratio\(String(format: "%.1f", maskRatio)).blank"
    }

    /// `XSumProcessor`: the ids of the split (`train`, `validation`, `test` in
    /// `XSum-TRAINING-DEV-TEST-SPLIT-90-5-5.json`), each `<id>.summary` read as `XSumData.parse` does.
    public static func xsum(split: Seq2SeqSplit, dataDirectory: String, tokenizer: any Tokenizer) throws -> [Seq2SeqExample] {
        let listFile = join(dataDirectory, XSumData.splitFile)
        let ids = try XSumData.ids(file: listFile, split: split)
        return try ids.enumerated().map { i, id in
            let file = join(dataDirectory, "\(id).summary")
            let doc = try XSumData.parse(file: file)
            return Seq2SeqExample(guid: "\(split.rawValue)-\(i)", source: doc.source, target: doc.target,
                                  ref: tokenizer.decode(tokenizer.encode(doc.target)), file: file, line: doc.line)
        }
    }

    // MARK: - Files

    struct Pair { var guid: String, source: String, target: String, file: String, line: Int }

    /// The lines of `{stem}.source` and `{stem}.target`, paired (raw: not yet stripped).
    static func pairs(_ dir: String, _ stem: String, split: Seq2SeqSplit) throws -> [Pair] {
        let sourceFile = join(dir, "\(stem).source"), targetFile = join(dir, "\(stem).target")
        let sources = try lines(sourceFile), targets = try lines(targetFile)
        try checkCounts(sourceFile, sources.count, targetFile, targets.count)
        return sources.indices.map { i in
            Pair(guid: "\(split.rawValue)-\(i)", source: sources[i], target: targets[i], file: sourceFile, line: i + 1)
        }
    }

    static func checkCounts(_ sourceFile: String, _ s: Int, _ targetFile: String, _ t: Int) throws {
        guard s != t else { return }
        let (longer, line) = s > t ? (sourceFile, t + 1) : (targetFile, s + 1)
        throw Seq2SeqDataError(file: longer, line: line,
                               reason: "\(sourceFile) has \(s) lines but \(targetFile) has \(t); every source line needs its target line")
    }

    /// `os.path.join(dir, name)` for a relative name.
    static func join(_ dir: String, _ name: String) -> String {
        dir.isEmpty || dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    /// The file as UTF-8 text.
    static func text(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Seq2SeqDataError(file: path, line: 0, reason: FileManager.default.fileExists(atPath: path)
                                   ? "cannot read the file" : "no such file")
        }
        if let s = String(validating: data, as: UTF8.self) { return s }
        var line = 1
        for chunk in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if String(validating: chunk, as: UTF8.self) == nil { break }
            line += 1
        }
        throw Seq2SeqDataError(file: path, line: line, reason: "not UTF-8 text")
    }

    /// The file's lines as Python's text mode iterates them (terminators removed).
    static func lines(_ path: String) throws -> [String] {
        LanguageModelCorpus.splitLines(try text(path))
    }
}
