// Preparation with the real GLM tokenizers gives the documents the original fed its sampler.
import Foundation
import XCTest
import GLMTokenizers
@testable import GLMTraining

final class DataTokenizerTests: XCTestCase {
    /// The train fixtures hold `[CLS] EncodeAsIds(text) [eos]` of two texts; preparing those texts must
    /// give exactly the middle part, and the command ids must be the ones the original used.
    func testPreparedFixtureTextsMatchTheOriginalsDocuments() throws {
        let cases: [(fixture: String, preset: String, commands: CommandTokenIDs)] = [
            ("train/glm-tiny-bert-loss.json", "glm-large", .bertWordPiece),
            ("train/glm-tiny-chinese-loss.json", "glm-large-chinese",
             CommandTokenIDs(enc: 50002, mask: 50003, sMask: 50008, gMask: 50009, sop: 50006, eop: 50007, eos: 50000, pad: 50000)),
        ]
        for c in cases {
            let f = try DataFixtures.json(c.fixture)
            let texts = try XCTUnwrap(f["document_texts"] as? [String])
            let documents = int32Rows(f["documents"])
            let tokenizer = try GLMDataTokenizer.preset(c.preset)
            XCTAssertEqual(tokenizer.commandTokenIDs, c.commands, c.preset)

            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("glm-data-tok-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let input = dir.appendingPathComponent("in.jsonl")
            let lines = try texts.map { String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0]), as: UTF8.self) }
            try lines.joined(separator: "\n").write(to: input, atomically: true, encoding: .utf8)
            let options = PrepareOptions(inputs: [input.path], output: dir.appendingPathComponent("out").path, preset: c.preset,
                                         standardizePunctuation: !c.preset.contains("chinese"))
            let summary = try DatasetPreparer(options: options, reporter: CollectingReporter(),
                                              makeTokenizer: { tokenizer }).run()   // Tokenizers are Sendable: one is shared
            XCTAssertEqual(summary.documents, 2)
            let ds = try TokenDataset(directory: dir.appendingPathComponent("out").path)
            XCTAssertEqual(ds.meta.tokenDType, "uint16")
            XCTAssertEqual(ds.commandTokens, c.commands)
            for i in 0..<2 {
                XCTAssertEqual([c.commands.enc] + ds.documentTokens(i) + [c.commands.eos], documents[i], "\(c.preset) document \(i)")
            }
            // Both fixture texts end with a full stop: '.' ends a sentence for both rules, '。' only for spans.
            XCTAssertEqual(ds.documentSentenceFlags(0).last, c.preset.contains("chinese") ? SentenceEnd.spanBit : SentenceEnd.spanBit | SentenceEnd.windowBit)
        }
    }

    func testSentenceEndRules() {
        XCTAssertEqual(SentenceEnd.flags(forToken: "."), 3)
        XCTAssertEqual(SentenceEnd.flags(forToken: "##!"), 3)
        XCTAssertEqual(SentenceEnd.flags(forToken: "\u{2026}"), 1, "… ends a sentence for spans only")
        XCTAssertEqual(SentenceEnd.flags(forToken: "？"), 1)
        XCTAssertEqual(SentenceEnd.flags(forToken: "Ċ"), 0, "GPT-2's byte-level newline is not \"\\n\"")
        XCTAssertEqual(SentenceEnd.flags(forToken: "\n"), 3)
        XCTAssertEqual(SentenceEnd.flags(forToken: "[CLS]"), 0)
    }
}
