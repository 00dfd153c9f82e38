import Foundation
import GLM
import GLMTokenizers
import XCTest
@testable import GLMGeneration

/// Every greedy case of every generate/*.json fixture, on the K/V-cache path and on the original's
/// memory path: the same prompt processing, the same generated ids (exact), the same stop reasons and
/// memory lengths, the same final sequence and printed text as generate_samples.py.
final class GreedyFixtureTests: GenerationTestCase {
    func testGreedyKVCacheMatchesOriginal() throws { try checkAll(path: .kvCache) }

    func testGreedyMemoryPathMatchesOriginal() throws { try checkAll(path: .memory) }

    /// All prompts of a fixture as ONE batch (ragged contexts: padding masked out), or in chunks of 3,
    /// give the same results.
    func testGreedyBatchMatchesOriginal() throws {
        for model in Fixtures.generationModels {
            let j = try Fixtures.json("generate/\(model).json")
            let settings = try FixtureSettings(j, file: model)
            let g = try Fixtures.generator(model)
            let cases = j.list("greedy")
            let prompts = cases.map { $0.string("prompt")! }
            for (path, rows) in [(DecodingPath.kvCache, 16), (.memory, 16), (.kvCache, 3)] {
                g.maxBatchRows = rows
                defer { g.maxBatchRows = 16 }
                let options = GenerationOptions(strategy: .greedy, maxLength: settings.greedyMaxLength, path: path)
                var tokenEvents = 0
                let results = g.generate(prompts, options: options) { if case .token = $0 { tokenEvents += 1 } }
                var expectedTokens = 0
                for (c, r) in zip(cases, results) {
                    let result = try r.get()
                    XCTAssertEqual(result.ids, ints(c["final_token_sequence"]), "\(model) batch \(path): \(c["prompt"]!)")
                    expectedTokens += c.list("blanks").map { ints($0["generated_ids"]).count }.reduce(0, +)
                }
                XCTAssertEqual(tokenEvents, expectedTokens, "\(model) batch \(path): one token event per generated token")
            }
        }
    }

    func checkAll(path: DecodingPath) throws {
        var checkedBlanks = 0, endStops = 0
        for model in Fixtures.generationModels {
            let j = try Fixtures.json("generate/\(model).json")
            let settings = try FixtureSettings(j, file: model)
            let g = try Fixtures.generator(model)
            let options = GenerationOptions(strategy: .greedy, maxLength: settings.greedyMaxLength, path: path)
            XCTAssertEqual(ints(j.dict("greedy_settings")["end_tokens"]), g.specialTokens.blankEndTokens, model)
            for c in j.list("greedy") {
                let prompt = c.string("prompt")!
                let label = "\(model) [\(path)] \(prompt.prefix(40))"
                let prepared = try g.prepare(prompt, maxLength: options.maxLength)
                XCTAssertEqual(prepared.encoding.rawText, c.string("raw_text_after_processing"), label)
                XCTAssertEqual(prepared.contextIds, ints(c["context_ids"]), label)
                XCTAssertEqual(prepared.maskPositions, ints(c["mask_positions"]), label)
                var lengths: [Int] = []
                var debug = BlankFillingCallbacks()
                debug.onBlankEndLength = { _, _, n in lengths.append(n) }
                let r = try g.run([prepared], options: options, onEvent: nil, debug: debug)[0]
                let blanks = c.list("blanks")
                XCTAssertEqual(r.blanks.count, blanks.count, label)
                for (mine, ref) in zip(r.blanks, blanks) {
                    XCTAssertEqual(mine.maskPosition, ref["mask_position"] as? Int, label)
                    XCTAssertEqual(mine.ids, ints(ref["generated_ids"]), "\(label) blank at \(mine.maskPosition)")
                    let stoppedOnEnd = (ref.string("stopped_by") ?? "").hasPrefix("end_token")
                    XCTAssertEqual(mine.stop, stoppedOnEnd ? .endToken : .maxLength, label)
                    if let chosen = ref.string("end_token_chosen") {
                        XCTAssertEqual(mine.endToken, chosen == "eop" ? g.specialTokens.eop : g.specialTokens.eos, label)
                    }
                    if stoppedOnEnd { endStops += 1 }
                    XCTAssertEqual(mine.text, g.tokenizer.decode(ints(ref["generated_ids"])), label)
                    checkedBlanks += 1
                }
                XCTAssertEqual(lengths, blanks.map { $0["mems_length_after"] as! Int }, "\(label): memory length after each blank")
                XCTAssertEqual(r.ids, ints(c["final_token_sequence"]), label)
                XCTAssertEqual(r.output, c.string("script_output_text"), label)
                XCTAssertEqual(r.filledIds, ints(c["filled_ids_convenience"]), label)
                XCTAssertEqual(g.tokenizer.decode(r.filledIds), c.string("filled_text_convenience"), label)
                if blanks.isEmpty {
                    XCTAssertNotNil(r.warning, "\(label): a prompt without a usable mask must warn")
                } else {
                    XCTAssertNil(r.warning, label)
                }
            }
        }
        // The fixtures hold 4 + 9 + 12 + 15 + 21 blanks; 18 end on eop (all in the trained model).
        XCTAssertEqual(checkedBlanks, 61)
        XCTAssertEqual(endStops, 18)
    }
}
