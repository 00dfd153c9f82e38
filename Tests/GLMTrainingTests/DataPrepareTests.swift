// `glm data prepare` and `TokenDataset`: content, bad lines, resumption, determinism, validation.
import Foundation
import XCTest
@testable import GLMTraining

/// Collects warnings instead of printing them.
final class CollectingReporter: PrepareReporter, @unchecked Sendable {
    private let lock = NSLock()
    private var _warnings: [String] = []
    var warnings: [String] { lock.lock(); defer { lock.unlock() }; return _warnings }
    func warning(_ message: String) { lock.lock(); _warnings.append(message); lock.unlock() }
    func progress(_ progress: PrepareProgress, final: Bool) {}
}

final class DataPrepareTests: XCTestCase {
    static let words = ["the", "lord", "said", "unto", "moses", "and", "god", "created", "heaven", "earth", "light",
                        "was", "good", "in", "beginning", ".", ",", ";", ":", "?", "!", "\"", "'", "-", "day", "night"]
    let tokenizer = WordTokenizer(words: DataPrepareTests.words)
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("glm-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    private func prepare(_ inputs: [String], output: String, workers: Int = 2, chunkBytes: Int = 4 << 20,
                         stopAfter: Int? = nil, force: Bool = false, tokenizer: WordTokenizer? = nil,
                         reporter: CollectingReporter = CollectingReporter()) throws -> PrepareSummary {
        let tok = tokenizer ?? self.tokenizer
        let options = PrepareOptions(inputs: inputs, output: directory.appendingPathComponent(output).path, preset: "test-words",
                                     workers: workers, chunkBytes: chunkBytes, force: force, stopAfterChunks: stopAfter)
        return try DatasetPreparer(options: options, reporter: reporter, makeTokenizer: { tok }).run()
    }

    private func dataFiles(_ output: String) throws -> [Data] {
        try [TokenDatasetMeta.tokensFile, TokenDatasetMeta.documentsFile, TokenDatasetMeta.sentenceFlagsFile, TokenDatasetMeta.metaFile]
            .map { try Data(contentsOf: directory.appendingPathComponent(output).appendingPathComponent($0)) }
    }

    func testContentsBadLinesAndSummary() throws {
        var jsonl = Array("""
        {"text": "In the beginning God created the heaven and the earth."}
        {"text": 5}
        not json at all
        {"title": "no text"}

        {"text": "   "}
        ["an", "array"]

        """.utf8)
        jsonl += [0x7B, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3A, 0x22, 0xFF, 0xFE, 0x22, 0x7D, 0x0A]   // {"text":"<bad UTF-8>"}
        jsonl += Array(#"{"text": "And God said: “light”; and light was good!"}"#.utf8) + [0x0A]
        let text = Array("the day and the night .\nthe lord said\n\n  \n\nunto moses ?\n".utf8) + [0xC3, 0x28, 0x0A]
        let reporter = CollectingReporter()
        let summary = try prepare([try file("a.jsonl", jsonl), try file("b.txt", text)], output: "out", reporter: reporter)

        XCTAssertTrue(summary.complete)
        XCTAssertEqual(summary.documents, 4)
        XCTAssertEqual(summary.skippedByReason, ["\"text\" is not a string": 1, "malformed JSON": 1, "no \"text\" field": 1,
                                                 "blank line": 1, "empty text": 1, "not a JSON object": 1, "invalid UTF-8": 1])
        XCTAssertEqual(summary.repairedByReason, ["invalid UTF-8 replaced by U+FFFD": 1])
        let w = reporter.warnings
        XCTAssertTrue(w.contains { $0.hasSuffix("a.jsonl:2: \"text\" is not a string — skipped") }, "\(w)")
        XCTAssertTrue(w.contains { $0.hasSuffix("a.jsonl:3: malformed JSON — skipped") }, "\(w)")
        XCTAssertTrue(w.contains { $0.hasSuffix("a.jsonl:8: invalid UTF-8 — skipped") }, "\(w)")
        XCTAssertTrue(w.contains { $0.hasSuffix("b.txt:6: invalid UTF-8 replaced by U+FFFD") }, "\(w)")
        XCTAssertFalse(w.contains { $0.contains("blank line") }, "blank JSONL lines are counted, not listed")
        XCTAssertTrue(summary.text.contains("skipped lines: 7"), summary.text)

        let ds = try TokenDataset(directory: directory.appendingPathComponent("out").path)
        try ds.verify()
        XCTAssertEqual(ds.meta.tokenDType, "uint16")
        XCTAssertEqual(ds.documentCount, 4)
        XCTAssertEqual(ds.commandTokens, testCommands)
        let expected = [
            "In the beginning God created the heaven and the earth.",
            "And God said: \"light\"; and light was good!",   // curly quotes standardized
            "the day and the night .\nthe lord said",
            "unto moses ?\n\u{FFFD}(",
        ].map { tokenizer.encodeIDs($0).map(Int32.init) }
        for (i, doc) in expected.enumerated() {
            XCTAssertEqual(ds.documentTokens(i), doc, "document \(i)")
            XCTAssertEqual(ds.documentSentenceFlags(i), doc.map { SentenceEnd.flags(forToken: tokenizer.tokenString(forID: Int($0))!) })
        }
        XCTAssertEqual(ds.meta.sources.map(\.documents), [2, 2])
        XCTAssertEqual(ds.meta.sources.map(\.skippedLines), [7, 0])
        XCTAssertEqual(ds.documentSentenceFlags(0).last, 3, "'.' ends a sentence for both rules")
    }

    /// Interrupted after 3 chunks, resumed with 2 workers: byte-identical to one uninterrupted 1-worker
    /// run; a third run is a no-op; a different chunk size gives the same data files.
    func testResumeAndDeterminism() throws {
        var rng = DataRandom(seed: 1)
        var lines: [String] = []
        for i in 0..<600 {
            let n = 1 + rng.below(30)
            let body = (0..<n).map { _ in DataPrepareTests.words[rng.below(DataPrepareTests.words.count)] }.joined(separator: " ")
            lines.append(i % 97 == 5 ? "{broken" : "{\"text\": \"\(body.replacingOccurrences(of: "\"", with: "\\\""))\"}")
        }
        let input = try file("c.jsonl", Array(lines.joined(separator: "\n").utf8))
        let textInput = try file("d.txt", Array(lines.prefix(200).map { $0.count % 3 == 0 ? "" : $0 }.joined(separator: "\n").utf8))

        let whole = try prepare([input, textInput], output: "whole", workers: 1, chunkBytes: 2000)
        XCTAssertTrue(whole.complete)
        XCTAssertGreaterThan(whole.chunksTotal, 10)

        let first = try prepare([input, textInput], output: "resumed", workers: 2, chunkBytes: 2000, stopAfter: 3)
        XCTAssertFalse(first.complete)
        XCTAssertEqual(first.chunksDone, 3)
        XCTAssertThrowsError(try TokenDataset(directory: directory.appendingPathComponent("resumed").path)) {
            XCTAssertTrue("\($0)".contains("preparation did not finish"), "\($0)")
        }
        // What a run killed in the middle of a write leaves behind.
        let stale = [directory.appendingPathComponent("resumed/tokens.bin.tmp-99999"),
                     directory.appendingPathComponent("resumed/.prepare/chunk-0000009.part.tmp-99999")]
        for url in stale { try Data([1, 2, 3]).write(to: url) }
        let second = try prepare([input, textInput], output: "resumed", workers: 2, chunkBytes: 2000)
        for url in stale { XCTAssertFalse(FileManager.default.fileExists(atPath: url.path), "\(url.lastPathComponent) removed") }
        XCTAssertTrue(second.complete)
        XCTAssertEqual(second.chunksReused, 3)
        XCTAssertEqual(second.documents, whole.documents)
        XCTAssertEqual(second.skippedByReason, whole.skippedByReason)
        XCTAssertEqual(try dataFiles("resumed"), try dataFiles("whole"), "resumed output is byte-identical")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("resumed/.prepare").path))

        let third = try prepare([input, textInput], output: "resumed", chunkBytes: 2000)
        XCTAssertTrue(third.alreadyPrepared)

        _ = try prepare([input, textInput], output: "big-chunks", workers: 2, chunkBytes: 1 << 20)
        XCTAssertEqual(try dataFiles("big-chunks").prefix(3), try dataFiles("whole").prefix(3), "chunking does not change the data")
    }

    func testChangedInputsNeedForce() throws {
        let input = try file("e.jsonl", Array((0..<50).map { _ in #"{"text": "the lord said unto moses ."}"# }.joined(separator: "\n").utf8))
        let partial = try prepare([input], output: "o", chunkBytes: 200, stopAfter: 1)
        XCTAssertFalse(partial.complete)
        _ = try file("e.jsonl", Array((0..<60).map { _ in #"{"text": "and god said ."}"# }.joined(separator: "\n").utf8))
        XCTAssertThrowsError(try prepare([input], output: "o", chunkBytes: 200)) { XCTAssertTrue("\($0)".contains("--force"), "\($0)") }
        let forced = try prepare([input], output: "o", chunkBytes: 200, force: true)
        XCTAssertEqual(forced.documents, 60)
        XCTAssertEqual(forced.chunksReused, 0)
        _ = try file("e.jsonl", Array(#"{"text": "day ."}"#.utf8))
        XCTAssertThrowsError(try prepare([input], output: "o")) { XCTAssertTrue("\($0)".contains("already holds"), "\($0)") }
        XCTAssertThrowsError(try prepare([directory.appendingPathComponent("missing.txt").path], output: "p")) {
            XCTAssertTrue("\($0)".contains("missing.txt: no such file"), "\($0)")
        }
    }

    func testReaderRejectsDamagedDatasets() throws {
        let input = try file("f.txt", Array("the lord said .\n\nand god created the heaven .\n".utf8))
        _ = try prepare([input], output: "ok")
        let out = directory.appendingPathComponent("ok")
        let tokens = out.appendingPathComponent(TokenDatasetMeta.tokensFile)
        var data = try Data(contentsOf: tokens)
        XCTAssertEqual(data.count, 10 * 2)
        data[3] ^= 0x01
        try data.write(to: tokens)
        XCTAssertThrowsError(try TokenDataset(directory: out.path).verify()) { XCTAssertTrue("\($0)".contains("checksum"), "\($0)") }
        try data.prefix(18).write(to: tokens)
        XCTAssertThrowsError(try TokenDataset(directory: out.path)) { XCTAssertTrue("\($0)".contains("size is 18 bytes, header says 20"), "\($0)") }
        let metaURL = out.appendingPathComponent(TokenDatasetMeta.metaFile)
        let meta = try String(contentsOf: metaURL, encoding: .utf8)
        try meta.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 9").write(to: metaURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TokenDataset(directory: out.path)) { XCTAssertTrue("\($0)".contains("version 9"), "\($0)") }
        try "{".write(to: metaURL, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try TokenDataset(directory: out.path)) { XCTAssertTrue("\($0)".contains("unreadable header"), "\($0)") }
    }

    func testByteOrderMarkAndCRLF() throws {
        let jsonl = try file("bom.jsonl", [0xEF, 0xBB, 0xBF] + Array("{\"text\": \"moses said .\"}\r\n{\"text\": \"day\"}\r\n".utf8))
        let text = try file("bom.txt", [0xEF, 0xBB, 0xBF] + Array("the lord\r\n\r\nsaid .\r\n".utf8))
        let summary = try prepare([jsonl, text], output: "bom")
        XCTAssertEqual(summary.documents, 4)
        XCTAssertTrue(summary.skippedByReason.isEmpty, "\(summary.skippedByReason)")
        let ds = try TokenDataset(directory: directory.appendingPathComponent("bom").path)
        XCTAssertEqual((0..<4).map { ds.documentTokens($0) }, ["moses said .", "day", "the lord", "said ."].map { tokenizer.encodeIDs($0).map(Int32.init) })
    }

    /// Vocabularies over 65536 ids are stored as uint32.
    func testWideVocabularyUsesUInt32() throws {
        let filler = (0..<70_000).map { "x\($0)" }
        let wide = WordTokenizer(words: filler + ["moses", "."])
        let input = try file("g.txt", Array("moses .\n".utf8))
        _ = try prepare([input], output: "wide", tokenizer: wide)
        let ds = try TokenDataset(directory: directory.appendingPathComponent("wide").path)
        XCTAssertEqual(ds.meta.tokenDType, "uint32")
        XCTAssertEqual(ds.documentTokens(0), [Int32(WordTokenizer.specials.count + 70_000), Int32(WordTokenizer.specials.count + 70_001)])
        try ds.verify()
    }

    /// A prepared dataset feeds the sampler end to end.
    func testPreparedDatasetFeedsTheBatcher() throws {
        let text = (0..<40).map { i in "in the beginning god created the heaven and the earth . and the earth was good \(i % 2 == 0 ? "." : "!")" }
            .joined(separator: "\n\n")
        _ = try prepare([try file("h.txt", Array(text.utf8))], output: "feed")
        let ds = try TokenDataset(directory: directory.appendingPathComponent("feed").path)
        var config = BlankInfillingConfig()
        config.seqLength = 48; config.bertProb = 0.5; config.gapSentenceProb = 0.25; config.taskMask = true
        let split = DocumentSplit.split(documentCount: ds.documentCount, weights: [9, 1])
        let source = try PackedSampleSource(store: ds, documents: split[0], config: config, commands: ds.commandTokens, seed: 3)
        let batcher = try BlankInfillingBatcher(source: source, config: config, seed: 3)
        for k in 0..<30 {
            let batch = try batcher.batch(k, size: 2)
            XCTAssertEqual(batch.tokens.count, batch.batchSize * batch.length)
            XCTAssertEqual(batch.positionIDs.count, batch.batchSize * 2 * batch.length)
            for row in batch.rows { _ = decodeRow(row, commands: ds.commandTokens) }
        }
    }
}
