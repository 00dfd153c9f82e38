// Shared helpers of the data tests: fixture location, synthetic corpora, a tiny tokenizer.
import Foundation
import XCTest
import GLMTestSupport
@testable import GLMTraining

enum DataFixtures {
    /// <package root>/../shared/fixtures/glm-reference (see `ReferenceFixtures`).
    static var root: URL { ReferenceFixtures.root }

    /// A fixture JSON object; fails the test (not skips) when the fixtures are missing.
    static func json(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let url = root.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            XCTFail("fixture \(url.path) is missing: the reference fixtures must sit at ../shared/fixtures/glm-reference beside the package", file: file, line: line)
            throw CocoaError(.fileNoSuchFile)
        }
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url))
        guard let dict = object as? [String: Any] else { throw CocoaError(.fileReadCorruptFile) }
        return dict
    }
}

/// Converts JSON numbers / nested arrays to Int32 arrays.
func int32s(_ any: Any?) -> [Int32] { (any as? [Any] ?? []).map { Int32(($0 as! NSNumber).intValue) } }
func int32Rows(_ any: Any?) -> [[Int32]] { (any as? [Any] ?? []).map { int32s($0) } }

/// Command ids of the synthetic test vocabulary (chosen like the BERT layout, plus task masks and dBLOCK).
let testCommands = CommandTokenIDs(enc: 1, mask: 2, sMask: 3, gMask: 4, sop: 5, eop: 6, eos: 0, pad: 0, dBlock: 7)

/// A deterministic synthetic corpus: documents of `lengths` tokens with ids in 100..<1100; every
/// `sentenceEvery`-th token (on average) is a sentence end (id 10, token ".").
func syntheticDocuments(lengths: [Int], sentenceEvery: Int = 12, seed: UInt64 = 7) -> InMemoryDocuments {
    var rng = DataRandom(seed: seed)
    let docs: [[Int32]] = lengths.map { n in
        (0..<n).map { _ in rng.below(sentenceEvery) == 0 ? 10 : Int32(100 + rng.below(1000)) }
    }
    return InMemoryDocuments(documents: docs, tokenString: { $0 == 10 ? "." : "w\($0)" })
}

/// Random document lengths in a range.
func syntheticLengths(count: Int, range: ClosedRange<Int>, seed: UInt64 = 3) -> [Int] {
    var rng = DataRandom(seed: seed)
    return (0..<count).map { _ in range.lowerBound + rng.below(range.count) }
}

/// A whitespace tokenizer over a fixed word list, for preparation tests.
struct WordTokenizer: DataTokenizer {
    // ids: 0 [PAD]/eos, 1 [CLS], 2 [MASK], 3 [sMASK], 4 [gMASK], 5 sop, 6 eop, 7 [dBLOCK], 8 [UNK], then words.
    static let specials = ["[PAD]", "[CLS]", "[MASK]", "[sMASK]", "[gMASK]", "<|startofpiece|>", "<|endofpiece|>", "[dBLOCK]", "[UNK]"]
    let words: [String]
    let index: [String: Int]

    init(words: [String]) {
        self.words = Self.specials + words
        index = Dictionary(uniqueKeysWithValues: self.words.enumerated().map { ($1, $0) })
    }

    func encodeIDs(_ text: String) -> [Int] {
        var ids: [Int] = []
        var current = ""
        func flush() { if !current.isEmpty { ids.append(index[current] ?? 8); current = "" } }
        for ch in text.lowercased() {
            if ch.isWhitespace { flush() } else if ".?!,;:".contains(ch) { flush(); current = String(ch); flush() } else { current.append(ch) }
        }
        flush()
        return ids
    }
    func tokenString(forID id: Int) -> String? { id >= 0 && id < words.count ? words[id] : nil }
    var tokenCount: Int { words.count }
    var commandTokenIDs: CommandTokenIDs { testCommands }
}
