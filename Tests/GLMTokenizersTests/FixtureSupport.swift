import Foundation
import XCTest
import GLMTestSupport
@testable import GLMTokenizers

/// The reference fixtures, read in place from ../shared/fixtures/glm-reference beside the package.
enum Fixtures {
    static let root: URL = ReferenceFixtures.root

    static func require(_ file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("tokenizers").path) else {
            XCTFail("reference fixtures missing at \(root.path): the tokenizer parity tests cannot run", file: file, line: line)
            throw XCTSkip("fixtures missing")
        }
        return root
    }

    /// A family's fixture file as JSON.
    static func family(_ name: String) throws -> [String: Any] {
        let url = try require().appendingPathComponent("tokenizers/\(name).json")
        let data = try Data(contentsOf: url)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func variants(_ family: String) throws -> [[String: Any]] {
        try XCTUnwrap(try Fixtures.family(family)["variants"] as? [[String: Any]])
    }
}

/// Tokenizers are loaded once per test process (loading is the slow part in debug builds).
final class TokenizerCache: @unchecked Sendable {
    static let shared = TokenizerCache()
    private let lock = NSLock()
    private var loaded: [String: GLMTokenizer] = [:]

    func get(_ preset: TokenizerPreset, vocabDirectory: URL? = nil) throws -> GLMTokenizer {
        // Presets with the same tokenizer flags build the same tokenizer: load each configuration once.
        let key = "\(preset.family)|\(preset.taskMask)|\(preset.fixCommandToken)|" + (vocabDirectory?.path ?? "")
        lock.lock()
        defer { lock.unlock() }
        if let t = loaded[key] { return t }
        let t = try TokenizerLoader.load(preset: preset, vocabDirectory: vocabDirectory)
        loaded[key] = t
        return t
    }
}

func ints(_ any: Any?) -> [Int] { (any as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } ?? [] }

/// Checks every case and generation prompt of a fixture variant against a tokenizer.
func checkVariant(_ variant: [String: Any], with tok: GLMTokenizer, file: StaticString = #filePath, line: UInt = #line) {
    let label = tok.name
    XCTAssertEqual(tok.numTokens, variant["num_tokens"] as? Int, "\(label) num_tokens", file: file, line: line)
    XCTAssertEqual(tok.numTextTokens, variant["num_text_tokens"] as? Int, "\(label) num_text_tokens", file: file, line: line)
    XCTAssertEqual(tok.paddedVocabSize, variant["padded_vocab_size"] as? Int, "\(label) padded", file: file, line: line)
    XCTAssertEqual(tok.commandToken(named: "eos"), variant["eod_token_id"] as? Int, "\(label) eod", file: file, line: line)
    let expectedCommands = (variant["command_tokens"] as? [[String: Any]] ?? []).map {
        CommandToken(name: $0["name"] as! String, token: $0["token"] as! String, id: $0["id"] as! Int,
                     lstrip: $0["lstrip"] as! Bool, rstrip: $0["rstrip"] as! Bool)
    }
    XCTAssertEqual(tok.commandTokens, expectedCommands, "\(label) command tokens", file: file, line: line)
    XCTAssertEqual(tok.generationMask, variant["generation_mask_for_prompts_without_mask"] as? String, file: file, line: line)

    let cases = variant["cases"] as? [[String: Any]] ?? []
    XCTAssertGreaterThan(cases.count, 50, "\(label): too few cases", file: file, line: line)
    var failures = 0
    for c in cases {
        let text = c["text"] as! String
        let ids = ints(c["ids"])
        let tokens = c["tokens"] as! [String]
        let decoded = c["decoded"] as! String
        let got = tok.encode(text)
        if got != ids { failures += 1 }
        XCTAssertEqual(got, ids, "\(label) ids of \(text.debugDescription)", file: file, line: line)
        XCTAssertEqual(ids.map { tok.token(for: $0) ?? "<nil>" }, tokens, "\(label) tokens of \(text.debugDescription)", file: file, line: line)
        XCTAssertEqual(tok.decode(ids), decoded, "\(label) decoded of \(text.debugDescription)", file: file, line: line)
    }
    let prompts = variant["generation_prompts"] as? [[String: Any]] ?? []
    XCTAssertGreaterThanOrEqual(prompts.count, 5, file: file, line: line)
    for p in prompts {
        let prompt = p["prompt"] as! String
        let g = tok.encodeGenerationPrompt(prompt)
        XCTAssertEqual(g.rawText, p["raw_text_after_processing"] as? String, "\(label) raw text of \(prompt)", file: file, line: line)
        XCTAssertEqual(g.textIds, ints(p["encode_as_ids_of_raw_text"]), "\(label) ids of \(prompt)", file: file, line: line)
        XCTAssertEqual(g.contextIds, ints(p["context_ids"]), "\(label) context of \(prompt)", file: file, line: line)
        XCTAssertEqual(g.appendedEOS, p["appended_eos"] as? Bool, "\(label) eos of \(prompt)", file: file, line: line)
        XCTAssertEqual(g.maskTokenIds, ints(p["mask_token_ids_searched"]), "\(label) masks of \(prompt)", file: file, line: line)
        XCTAssertEqual(g.maskPositions, ints(p["mask_positions"]), "\(label) mask positions of \(prompt)", file: file, line: line)
        XCTAssertEqual(g.contextIds.map { tok.token(for: $0) ?? "<nil>" }, p["tokens"] as? [String], "\(label) tokens of \(prompt)", file: file, line: line)
        XCTAssertEqual(tok.decode(g.contextIds), p["decoded_context"] as? String, "\(label) decoded of \(prompt)", file: file, line: line)
    }
}
