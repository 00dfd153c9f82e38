import Foundation
import GLMGeneration
import GLMTestSupport
import XCTest

/// Greedy completions and fills equal `glm generate` (the generator, itself proven against the original
/// by GreedyFixtureTests) on every greedy prompt of the generate/ fixtures; choice scores equal the
/// original's GLMForMultiTokenCloze scores of tasks/multichoice.
final class ServerFixtureTests: XCTestCase {
    static let models = ["glm-tiny-bert-sharp", "glm-tiny-chinese-sharp", "glm-tiny-bert-trained"]

    func testGreedyCompletionsAndFillEqualGenerateOnFixturePrompts() async throws {
        for model in Self.models {
            let fixture = try ReferenceFixtures.json("generate/\(model).json")
            let settings = fixture["greedy_settings"] as! [String: Any]
            let maxLength = settings["out_seq_length(max new tokens per blank)"] as! Int
            try await ServerHarness.with(model: model) { server in
                let g = try ServerHarness.generator(model)
                for c in fixture["greedy"] as! [[String: Any]] {
                    let prompt = c["prompt"] as! String
                    let label = "\(model): \(prompt.prefix(40))"
                    let expected = try g.generate(prompt, options: GenerationOptions(maxLength: maxLength))
                    // /v1/glm/fill = the `glm generate --jsonl` line, ids = the original's final sequence.
                    let fill = try await server.post("/v1/glm/fill", ["prompt": prompt, "max_tokens": maxLength])
                    XCTAssertEqual(fill.status, 200, label)
                    XCTAssertEqual(fill.text, GenerationJSONLines.line(for: expected), label)
                    XCTAssertEqual((fill.json["ids"] as? [Int]) ?? [], (c["final_token_sequence"] as! [NSNumber]).map(\.intValue), label)
                    // Without max_tokens, /fill decodes as `glm generate` with its defaults does.
                    let byDefault = try await server.post("/v1/glm/fill", ["prompt": prompt])
                    XCTAssertEqual(byDefault.text, GenerationJSONLines.line(for: try g.generate(prompt)), label)
                    // /v1/completions: echo = what `glm generate` prints; plain text = the blanks' texts.
                    let echo = try await server.post("/v1/completions", ["prompt": prompt, "max_tokens": maxLength, "echo": true])
                    let choice = (echo.json["choices"] as? [[String: Any]])?.first ?? [:]
                    XCTAssertEqual(choice["text"] as? String, expected.text, label)
                    let plain = try await server.post("/v1/completions", ["prompt": prompt, "max_tokens": maxLength])
                    let text = ((plain.json["choices"] as? [[String: Any]])?.first?["text"] as? String)
                    XCTAssertEqual(text, expected.blanks.map(\.text).joined(), label)
                    let usage = plain.json["usage"] as? [String: Int] ?? [:]
                    XCTAssertEqual(usage["completion_tokens"], expected.blanks.map(\.ids.count).reduce(0, +), label)
                    XCTAssertEqual(usage["prompt_tokens"], expected.contextIds.count, label)
                    let reason = expected.blanks.contains { $0.stop == .maxLength } ? "length" : "stop"
                    XCTAssertEqual((plain.json["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String, reason, label)
                }
            }
        }
    }

    /// The fixture setting `glm evaluate --task multichoice` runs by default (seq length 512,
    /// bidirectional, no length penalty) on each sharp model: every score within 1e-4.
    func testChoiceScoresEqualMultichoiceFixture() async throws {
        var checked = 0
        for file in ["tasks/multichoice/multichoice-en.json", "tasks/multichoice/multichoice-zh.json"] {
            let settings = try ReferenceFixtures.json(file)["settings"] as! [[String: Any]]
            for s in settings where (s["model_for_scores"] as! String).hasSuffix("-sharp") && s["seq_length"] as? Int == 512
                && s["unidirectional"] as? Bool == false {
                let model = s["model_for_scores"] as! String
                let lp = s["length_penalty"] as! Double
                try await ServerHarness.with(model: model) { server in
                    for item in s["items"] as! [[String: Any]] {
                        let line = item["line"] as! [String: Any]
                        let reply = try await server.post("/v1/glm/choices", ["prompt": line["inputs_pretokenized"]!,
                                                                               "choices": line["choices_pretokenized"]!, "length_penalty": lp])
                        XCTAssertEqual(reply.status, 200, reply.text)
                        let scores = reply.json["scores"] as? [Double] ?? []
                        let expected = (item["scores"] as! [NSNumber]).map(\.doubleValue)
                        XCTAssertEqual(scores.count, expected.count, model)
                        for (a, e) in zip(scores, expected) { XCTAssertEqual(a, e, accuracy: 1e-4, "\(model) \(line)") }
                        let best = expected.indices.max { expected[$0] < expected[$1] }!
                        XCTAssertEqual(reply.json["best"] as? Int, best, "\(model) \(line)")
                        checked += 1
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 8, "items of the sharp models checked")
    }
}
