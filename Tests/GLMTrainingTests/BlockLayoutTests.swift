// The blank-infilling row layout must equal the original's exactly.
import XCTest
@testable import GLMTraining

final class BlockLayoutTests: XCTestCase {
    /// Recovers, from one row the original produced, the spans it blanked (in part-B order): part B is
    /// split at `sop`; each block's position id is its [MASK]'s position; walking part A against the
    /// document then gives each span's start.
    private func spansSeen(document: [Int32], text: [Int32], positions: [Int32], sep: Int, length: Int,
                           maskID: Int32, sopID: Int32) throws -> [BlankSpan] {
        var blocks: [(position: Int32, length: Int)] = []
        for i in sep..<length {
            if text[i] == sopID { blocks.append((positions[i], 0)) } else { blocks[blocks.count - 1].length += 1 }
        }
        var starts: [Int32: Int] = [:]
        var cursor = 0
        for j in 0..<sep {
            if text[j] == maskID, let block = blocks.first(where: { $0.position == positions[j] }) {
                starts[block.position] = cursor
                cursor += block.length
            } else {
                XCTAssertEqual(document[cursor], text[j], "part A token \(j) is not the document's token \(cursor)")
                cursor += 1
            }
        }
        XCTAssertEqual(cursor, document.count, "part A plus the spans must cover the whole document")
        return try blocks.map { b in
            let start = try XCTUnwrap(starts[b.position], "no [MASK] at position \(b.position) in part A")
            return start..<(start + b.length)
        }
    }

    /// The original's `train/*-loss.json` batches (ConstructBlockStrategy.construct_blocks, bert mode):
    /// the same documents with the same spans give identical text/target/loss_mask/position_id/sep,
    /// padded as `pad_batch`.
    func testFixtureBatchesAreReproducedExactly() throws {
        let cases: [(file: String, mask: Int32, sop: Int32, eop: Int32)] = [
            ("train/glm-tiny-bert-loss.json", 103, 30522, 30523),      // BERT WordPiece (fixtures README §1)
            ("train/glm-tiny-chinese-loss.json", 50003, 50006, 50007),  // chinese-sp
        ]
        for c in cases {
            let f = try DataFixtures.json(c.file)
            let documents = int32Rows(f["documents"])
            let text = int32Rows(f["text"]), target = int32Rows(f["target"]), lossMask = int32Rows(f["loss_mask"])
            let positionID = (f["position_id"] as! [Any]).map { int32Rows($0) }
            let sep = int32s(f["attention_mask"]).map(Int.init)
            XCTAssertEqual(documents.count, 2)
            var rows: [BlockRow] = []
            var spanCount = 0
            for i in documents.indices {
                let length = sep[i] + Int(lossMask[i].reduce(0, +))
                let spans = try spansSeen(document: documents[i], text: text[i], positions: positionID[i][0], sep: sep[i],
                                          length: length, maskID: c.mask, sopID: c.sop)
                spanCount += spans.count
                let row = try BlockLayout.blanks(tokens: documents[i], spans: spans, maskID: c.mask, sopID: c.sop, eopID: c.eop)
                XCTAssertEqual(row.tokens, Array(text[i][..<length]), "\(c.file) row \(i) text")
                XCTAssertEqual(row.targets, Array(target[i][..<length]), "\(c.file) row \(i) target")
                XCTAssertEqual(row.lossMask, Array(lossMask[i][..<length]), "\(c.file) row \(i) loss_mask")
                XCTAssertEqual(row.positions, Array(positionID[i][0][..<length]), "\(c.file) row \(i) position row 0")
                XCTAssertEqual(row.blockPositions, Array(positionID[i][1][..<length]), "\(c.file) row \(i) position row 1")
                XCTAssertEqual(row.sep, sep[i], "\(c.file) row \(i) sep")
                rows.append(row)
            }
            XCTAssertGreaterThanOrEqual(spanCount, 3, "the fixture rows hold several spans")
            let batch = BlockBatch(rows: rows, mode: .bert)
            XCTAssertEqual(batch.tokens, text.flatMap { $0 }, "\(c.file) padded text")
            XCTAssertEqual(batch.targets, target.flatMap { $0 }, "\(c.file) padded target")
            XCTAssertEqual(batch.lossMask, lossMask.flatMap { $0 }, "\(c.file) padded loss_mask")
            XCTAssertEqual(batch.positionIDs, positionID.flatMap { $0.flatMap { $0 } }, "\(c.file) padded position_id")
            XCTAssertEqual(batch.sep, sep.map(Int32.init), "\(c.file) attention_mask (sep)")
            XCTAssertEqual(batch.lossTokenCount, f["loss_mask_sum"] as? Int)
        }
    }

    /// A hand-made document and spans, with the expected row written out by hand.
    func testHandMadeBlanks() throws {
        let doc: [Int32] = [1, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 0]
        let row = try BlockLayout.blanks(tokens: doc, spans: [7..<9, 2..<3], maskID: 2, sopID: 5, eopID: 6)
        XCTAssertEqual(row.tokens, [1, 11, 2, 13, 14, 15, 16, 2, 19, 20, 0, 5, 17, 18, 5, 12])
        XCTAssertEqual(row.targets, [1, 11, 2, 13, 14, 15, 16, 2, 19, 20, 0, 17, 18, 6, 12, 6])
        XCTAssertEqual(row.lossMask, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        XCTAssertEqual(row.positions, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 7, 7, 7, 2, 2])
        XCTAssertEqual(row.blockPositions, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 1, 2])
        XCTAssertEqual(row.sep, 11)

        let flat = try BlockLayout.blanks(tokens: doc, spans: [7..<9, 2..<3], maskID: 2, sopID: 5, eopID: 6,
                                          blockPositionEncoding: false)
        XCTAssertEqual(flat.blockPositions, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])

        // Adjacent spans (sentence mode can produce them) each get their own [MASK] and position.
        let adjacent = try BlockLayout.blanks(tokens: doc, spans: [3..<5, 1..<3], maskID: 3, sopID: 5, eopID: 6)
        XCTAssertEqual(adjacent.tokens, [1, 3, 3, 15, 16, 17, 18, 19, 20, 0, 5, 13, 14, 5, 11, 12])
        XCTAssertEqual(adjacent.positions, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 2, 2, 2, 1, 1, 1])
        XCTAssertEqual(adjacent.sep, 10)
    }

    func testHandMadeSuffix() throws {
        let row = try BlockLayout.suffix(tokens: [1, 11, 12, 13, 14, 15, 0], lossMask: [0, 1, 1, 1, 1, 1, 1], division: 4,
                                         maskID: 4, sopID: 5)
        XCTAssertEqual(row.tokens, [1, 11, 12, 13, 4, 5, 14, 15])
        XCTAssertEqual(row.targets, [1, 11, 12, 13, 4, 14, 15, 0])
        XCTAssertEqual(row.lossMask, [0, 0, 0, 0, 0, 1, 1, 1])
        XCTAssertEqual(row.positions, [0, 1, 2, 3, 4, 4, 4, 4])
        XCTAssertEqual(row.blockPositions, [0, 0, 0, 0, 0, 1, 2, 3])
        XCTAssertEqual(row.sep, 5)
        // An inserted [CLS] inside the suffix keeps loss 0, from the sample's own mask.
        let packed = try BlockLayout.suffix(tokens: [1, 11, 0, 1, 12, 0], lossMask: [0, 1, 1, 0, 1, 1], division: 2,
                                            maskID: 4, sopID: 5)
        XCTAssertEqual(packed.lossMask, [0, 0, 0, 1, 0, 1, 1])
    }

    func testBadSpansAreErrorsNotCrashes() {
        let doc: [Int32] = [1, 11, 12, 13, 0]
        XCTAssertThrowsError(try BlockLayout.blanks(tokens: doc, spans: [2..<2], maskID: 2, sopID: 5, eopID: 6))
        XCTAssertThrowsError(try BlockLayout.blanks(tokens: doc, spans: [3..<9], maskID: 2, sopID: 5, eopID: 6))
        XCTAssertThrowsError(try BlockLayout.blanks(tokens: doc, spans: [1..<3, 2..<4], maskID: 2, sopID: 5, eopID: 6))
        XCTAssertThrowsError(try BlockLayout.suffix(tokens: doc, lossMask: [0, 1, 1, 1, 1], division: 5, maskID: 4, sopID: 5))
    }

    func testPaddingToAMinimumLength() throws {
        let row = try BlockLayout.blanks(tokens: [1, 11, 12, 0], spans: [1..<2], maskID: 2, sopID: 5, eopID: 6)
        let batch = BlockBatch(rows: [row], mode: .bert, minimumLength: 8)
        XCTAssertEqual(batch.length, 8)
        XCTAssertEqual(batch.tokens, [1, 2, 12, 0, 5, 11, 0, 0])
        XCTAssertEqual(batch.positionIDs, [0, 1, 2, 3, 1, 1, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0])
    }

    /// Sentence spans: ends after a sentence-end token; eos closes a stretch without making a sentence;
    /// the leading [CLS] is excluded; an unterminated tail is a sentence.
    func testSentenceSpans() {
        // [CLS] a b . c ? eos [CLS] d e . f g
        let tokens: [Int32] = [1, 20, 21, 10, 22, 11, 0, 1, 23, 24, 10, 25, 26]
        let flags: [UInt8] = tokens.map { $0 == 10 || $0 == 11 ? 3 : 0 }
        let sample = PackedSample(tokens: tokens, lossMask: tokens.map { $0 == 1 ? 0 : 1 }, sentenceFlags: flags)
        XCTAssertEqual(SpanSampling.sentences(of: sample, eos: 0, enc: 1), [1..<4, 4..<6, 7..<11, 11..<13])
    }
}
