import Foundation
import XCTest
@testable import GLMTokenizers

/// The two merge strategies (direct loop for short words, heap for long ones) against a plain port
/// of the original `bpe()` on strings, with the real GPT-2 merges and with a pathological merges file.
final class BPEMergeTests: XCTestCase {
    /// The original algorithm on strings: min-rank bigram, merge all its occurrences left to right.
    static func referenceBPE(_ word: [String], ranks: [String: [String: Int]]) -> [String] {
        var w = word
        while w.count > 1 {
            var best: (Int, String, String)? = nil
            for i in 0..<(w.count - 1) {
                if let r = ranks[w[i]]?[w[i + 1]], best == nil || r < best!.0 { best = (r, w[i], w[i + 1]) }
            }
            guard let (_, first, second) = best else { break }
            var out: [String] = []
            var i = 0
            while i < w.count {
                if i + 1 < w.count && w[i] == first && w[i + 1] == second { out.append(first + second); i += 2 } else { out.append(w[i]); i += 1 }
            }
            w = out
        }
        return w
    }

    private func gpt2() throws -> ByteLevelBPEModel {
        guard case .byteLevel(let m) = try TokenizerCache.shared.get(.glm10B).backend else { throw XCTSkip("not BPE") }
        return m
    }

    func testHeapAgreesWithDirectLoopOnRealMerges() throws {
        let m = try gpt2()
        var rng = SystemRandomNumberGenerator()
        let alphabets: [[UInt8]] = [Array("ab".utf8), Array("aab".utf8), Array("thequickbrownfox".utf8), Array("etaoinshrdlu".utf8), Array("0123456789".utf8)]
        for trial in 0..<300 {
            let alphabet = alphabets[trial % alphabets.count]
            let n = Int.random(in: 2...160, using: &rng)
            let bytes = (0..<n).map { _ in alphabet.randomElement(using: &rng)! }
            var a = bytes.map { m.byteSymbol[Int($0)] }
            var b = a
            BPEMerge.mergeDirect(&a, pairs: m.pairs)
            BPEMerge.mergeWithHeap(&b, pairs: m.pairs)
            XCTAssertEqual(a, b, "word \(String(decoding: bytes, as: UTF8.self))")
        }
    }

    /// A long one-letter word goes through the heap (the 10 MB timing check is in bench/tokenizers).
    func testLongRunOfOneLetterIsConsistent() throws {
        let tok = try TokenizerCache.shared.get(.glm10B)
        guard case .byteLevel(let m) = tok.backend else { return XCTFail() }
        var direct = [Int32](repeating: m.byteSymbol[Int(UInt8(ascii: "a"))], count: 3000)
        var heap = direct
        BPEMerge.mergeDirect(&direct, pairs: m.pairs)
        BPEMerge.mergeWithHeap(&heap, pairs: m.pairs)
        XCTAssertEqual(direct, heap)
        // 120 'a's is a fixture case (24794 × 30); 20 000 follow the same pattern.
        let long = tok.encode(String(repeating: "a", count: 20_000))
        XCTAssertEqual(long, [Int](repeating: 24794, count: 5000))
        XCTAssertEqual(tok.decode(long), String(repeating: "a", count: 20_000))
    }

    /// A merges file where a merge creates a pair of LOWER rank than the one being applied: the
    /// original finishes the current round first; the heap must too.
    func testPathologicalMergeOrderMatchesOriginal() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bpe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let merges = ["xy z", "x y", "z z", "y z", "zz z", "xyz z"]  // "xy z" (rank 0) only exists after "x y" (rank 1)
        try ("#version: 0.2\n" + merges.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("merges.txt"), atomically: true, encoding: .utf8)
        var vocab: [String: Int] = ["<|endoftext|>": 0]
        for s in ["x", "y", "z", "xy", "zz", "yz", "xyz", "zzz", "xyzz"] { vocab[s] = vocab.count }
        try JSONSerialization.data(withJSONObject: vocab).write(to: dir.appendingPathComponent("vocab.json"))
        let tok = try TokenizerLoader.load(family: .gpt2, files: [dir.appendingPathComponent("vocab.json"), dir.appendingPathComponent("merges.txt")], taskMask: true)
        guard case .byteLevel(let m) = tok.backend else { return XCTFail() }
        var ranks: [String: [String: Int]] = [:]
        for (r, line) in merges.enumerated() {
            let p = line.split(separator: " ").map(String.init)
            ranks[p[0], default: [:]][p[1]] = r
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<400 {
            let word = (0..<Int.random(in: 2...120, using: &rng)).map { _ in ["x", "y", "z"].randomElement(using: &rng)! }
            let expected = BPEMergeTests.referenceBPE(word, ranks: ranks).map { vocab[$0] ?? 0 }
            var a = word.map { m.byteSymbol[Int($0.utf8.first!)] }
            var b = a
            BPEMerge.mergeDirect(&a, pairs: m.pairs)
            BPEMerge.mergeWithHeap(&b, pairs: m.pairs)
            XCTAssertEqual(a.map { Int(m.symbolOutputId[Int($0)]) }, expected, "direct, word \(word.joined())")
            XCTAssertEqual(b.map { Int(m.symbolOutputId[Int($0)]) }, expected, "heap, word \(word.joined())")
        }
    }

    /// Byte-level BPE is lossless: decode(encode(s)) == s for text without command tokens.
    func testByteLevelRoundTrip() throws {
        let tok = try TokenizerCache.shared.get(.glm2B)
        var rng = SystemRandomNumberGenerator()
        let pool = Array("ab c\t\n  ' é中文😀\u{0301}\u{00A0}\u{2028}1.,;!Σ".unicodeScalars)
        for _ in 0..<120 {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 1...40, using: &rng) { s.append(pool.randomElement(using: &rng)!) }
            let text = String(s)
            if text.unicodeScalars.allSatisfy({ isPythonSpace($0.value) }) { continue }
            XCTAssertEqual(tok.decode(tok.encode(text)), text)
        }
    }
}
