import Foundation
import XCTest
import GLMTestSupport
import SwiftGLM

/// The one-page API (`GLMPipeline`) on the reference fixtures' tiny models: each entry point gives what
/// the module it wraps gives, and the choice scores are the original's.
final class PipelineTests: XCTestCase {
    static let model = "glm-tiny-bert-trained"

    func load(_ name: String = PipelineTests.model) throws -> GLMPipeline {
        let path = ReferenceFixtures.root.appendingPathComponent("models/\(name)").path
        // Fails (never skips) without the fixtures: an unchecked API must not look green.
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "fixture model missing: \(path)")
        return try GLMPipeline.load(path)
    }

    func testTokenizeFillBatchAndStreamAgreeWithTheGenerator() async throws {
        let glm = try load()
        let prompts = ["the cat sat on the [MASK] .", "a [MASK] of water"]
        let ids = glm.tokenize(prompts[0])
        XCTAssertEqual(ids, glm.tokenizer.encode(prompts[0]))
        XCTAssertTrue(ids.contains(try XCTUnwrap(glm.tokenizer.commandToken(named: "MASK"))))
        XCTAssertEqual(glm.detokenize(glm.tokenize("hello world")), "hello world")

        let options = GenerationOptions(maxLength: 12)
        let one = try glm.fill(prompts[0], options: options)
        XCTAssertEqual(one, try glm.generator.generate(prompts[0], options: options))
        XCTAssertFalse(one.blanks.isEmpty)
        let batch = glm.fill(prompts, options: options).map { try? $0.get() }
        XCTAssertEqual(batch[0], one, "a batch gives each prompt what it gets alone")
        XCTAssertEqual(batch[1], try glm.fill(prompts[1], options: options))

        var tokens: [Int] = [], final: GenerationResult?
        for try await event in glm.stream(prompts[0], options: options) {
            switch event {
            case .token(_, _, let id, _): tokens.append(id)
            case .finished(_, let result): final = result
            case .blankFinished: break
            }
        }
        XCTAssertEqual(final, one)
        XCTAssertEqual(tokens, one.blanks.flatMap(\.ids))
    }

    func testScoreChoicesIsTheOriginalsMultipleChoiceScore() throws {
        // scripts/evaluate_multichoice.sh (seq-length 512, bidirectional) on the sharp model: the fixture's
        // scores, computed by the original GLMForMultiTokenCloze.
        let fixture = try JSONSerialization.jsonObject(with: Data(contentsOf: ReferenceFixtures.root
            .appendingPathComponent("tasks/multichoice/multichoice-en.json"))) as! [String: Any]
        let setting = (fixture["settings"] as! [[String: Any]]).first {
            ($0["model_for_scores"] as? String) == "glm-tiny-bert-sharp" && ($0["seq_length"] as? Int) == 512
        }!
        let glm = try load("glm-tiny-bert-sharp")
        var checked = 0
        for item in setting["items"] as! [[String: Any]] {
            let line = item["line"] as! [String: Any]
            let expected = (item["scores"] as! [NSNumber]).map(\.doubleValue)
            let got = try glm.scoreChoices(line["inputs_pretokenized"] as! String,
                                           choices: line["choices_pretokenized"] as! [String], seqLength: 512)
            XCTAssertEqual(got.scores.count, expected.count)
            for (g, e) in zip(got.scores, expected) { XCTAssertEqual(g, e, accuracy: 2e-5) }
            XCTAssertEqual(got.best, item["prediction"] as? Int)
            checked += 1
        }
        XCTAssertEqual(checked, 5)
    }
}

extension PipelineTests {
    /// `finetune` with zero epochs is the SuperGLUE evaluation of the loaded model (the original's metrics
    /// for the sharp model on the CB fixture), and one epoch trains the pipeline's own model in place.
    func testFinetuneEvaluatesAndTrainsThePipelinesModel() throws {
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "pipeline-finetune")
        let jsonl = ReferenceFixtures.root.appendingPathComponent("tasks/superglue/cb.jsonl").path
        for name in ["train.jsonl", "val.jsonl"] { try FileManager.default.copyItem(atPath: jsonl, toPath: dir + "/" + name) }
        let glm = try load("glm-tiny-bert-sharp")
        let evaluated = try glm.finetune(.cb, data: dir, options: FinetuneOptions(epochs: 0, batchSize: 4))
        XCTAssertEqual(evaluated.bestEpoch, 0)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: evaluated.metrics.map { ($0.name, $0.value) })["accuracy"] ?? -1, 25.0, accuracy: 1e-9)
        let before = glm.model.word_embeddings.weight.value.toFloats()
        var steps = 0
        _ = try glm.finetune(.cb, data: dir, options: FinetuneOptions(epochs: 1, batchSize: 2)) { if case .step = $0 { steps += 1 } }
        XCTAssertGreaterThan(steps, 0)
        XCTAssertNotEqual(glm.model.word_embeddings.weight.value.toFloats(), before, "the pipeline's model was trained")
    }
}
