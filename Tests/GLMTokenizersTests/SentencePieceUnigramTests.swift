import Foundation
import XCTest
@testable import GLMTokenizers

/// SentencePiece unigram segmentation (no preset uses it; GLM's model is BPE) on a tiny model built
/// here. Expected ids were computed by hand from the scores and agree with sentencepiece 0.2.x on
/// the same model bytes.
final class SentencePieceUnigramTests: XCTestCase {
    /// Minimal protobuf writer for ModelProto.
    private struct Proto {
        var bytes: [UInt8] = []
        mutating func varint(_ v: UInt64) {
            var v = v
            while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
            bytes.append(UInt8(v))
        }
        mutating func key(_ field: Int, _ wire: Int) { varint(UInt64(field << 3 | wire)) }
        mutating func string(_ field: Int, _ s: [UInt8]) { key(field, 2); varint(UInt64(s.count)); bytes += s }
        mutating func float(_ field: Int, _ f: Float) {
            key(field, 5)
            let b = f.bitPattern
            bytes += [UInt8(b & 0xFF), UInt8(b >> 8 & 0xFF), UInt8(b >> 16 & 0xFF), UInt8(b >> 24)]
        }
        mutating func int(_ field: Int, _ v: Int) { key(field, 0); varint(UInt64(v)) }
    }

    private func model() throws -> SentencePieceModel {
        var m = Proto()
        let pieces: [(String, Float, Int)] = [
            ("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3), ("▁", -1, 1), ("▁ab", -3, 1), ("a", -2, 1), ("b", -2, 1),
            ("ab", -1.5, 1), ("▁a", -2.5, 1), ("c", -4, 1), ("abc", -6, 1), ("bc", -2.25, 1), ("<n>", 0, 4),
        ]
        for (p, s, t) in pieces {
            var sub = Proto()
            sub.string(1, Array(p.utf8))
            sub.float(2, s)
            sub.int(3, t)
            m.string(1, sub.bytes)
        }
        var trainer = Proto()
        trainer.int(3, 1)  // UNIGRAM
        m.string(2, trainer.bytes)
        var norm = Proto()
        norm.string(1, Array("identity".utf8))
        m.string(3, norm.bytes)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("uni-\(UUID().uuidString).model")
        try Data(m.bytes).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        return try SentencePieceModel(modelFile: url)
    }

    private func encode(_ m: SentencePieceModel, _ s: String) -> [Int] {
        var out: [Int] = []
        Array(s.utf8).withUnsafeBufferPointer { m.encode($0, into: &out) }
        return out
    }

    func testViterbiPicksTheBestScoringPath() throws {
        let m = try model()
        XCTAssertEqual(m.modelType, .unigram)
        // "▁ab": ▁+ab = -2.5 beats ▁ab = -3, ▁a+b = -4.5.
        XCTAssertEqual(encode(m, "ab"), [3, 7])
        // "▁abc": ▁a+bc = -4.75 beats ▁+ab+c = -6.5 and ▁+abc = -7.
        XCTAssertEqual(encode(m, "abc"), [8, 11])
        XCTAssertEqual(encode(m, "abcabc"), [8, 11, 5, 11])
        // Unknown characters score min_score - 10; a run of them is one <unk>.
        XCTAssertEqual(encode(m, "abx"), [3, 7, 0])
        XCTAssertEqual(encode(m, "xx ab"), [3, 0, 3, 7])
        // Extra whitespace removed, user-defined symbols kept whole.
        XCTAssertEqual(encode(m, "  a  b c "), [8, 3, 6, 3, 9])
        XCTAssertEqual(encode(m, "a<n>b"), [8, 12, 6])
        XCTAssertEqual(m.decode([3, 0, 3, 7]), " ⁇  ab")
        XCTAssertEqual(m.decode([8, 12, 6]), "a<n>b")
        XCTAssertEqual(m.decode([8, 3, 6, 3, 9]), "a b c")
    }
}
