import Foundation
import XCTest
import GLMCheckpoint
@testable import GLM

final class ConfigTests: XCTestCase {
    func testHFConfigDecodesAndRoundTrips() throws {
        let path = try GLMFixtures.path("models/glm-tiny-bert/hf/config.json")
        let c = try GLMConfig.load(path: path)
        XCTAssertEqual(c.numLayers, 2)
        XCTAssertEqual(c.hiddenSize, 32)
        XCTAssertEqual(c.numAttentionHeads, 4)
        XCTAssertEqual(c.headDim, 8)
        XCTAssertEqual(c.intermediateSize, 128)
        XCTAssertEqual(c.vocabSize, 30592)
        XCTAssertEqual(c.maxSequenceLength, 128)
        XCTAssertEqual(c.positionTableRows, 129)
        XCTAssertEqual(c.embeddingDropoutProb, 0)
        XCTAssertTrue(c.blockPositionEncoding)
        XCTAssertEqual(c.torchDtype, "float32")
        XCTAssertNil(c.tokenizer) // HF configs carry no tokenizer

        var withTok = c
        withTok.tokenizer = "glm-large"
        let back = try JSONDecoder().decode(GLMConfig.self, from: try withTok.jsonData())
        XCTAssertEqual(back, withTok)

        // Every HF field of the fixture is written back with the same value.
        let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        let written = try JSONSerialization.jsonObject(with: c.jsonData()) as! [String: Any]
        for (k, v) in original where k != "_note" {
            XCTAssertNotNil(written[k], "field \(k) not written")
            if let a = written[k] as? NSNumber, let b = v as? NSNumber {
                XCTAssertEqual(a.doubleValue, b.doubleValue, "field \(k)")
            } else {
                XCTAssertEqual("\(written[k]!)", "\(v)", "field \(k)")
            }
        }
    }

    func testFixtureDescriptiveConfigsDecodeWithTokenizer() throws {
        let bert = try GLMConfig.load(path: try GLMFixtures.path("models/glm-tiny-bert/config.json"))
        XCTAssertEqual(bert.tokenizer, "glm-large")
        XCTAssertEqual(bert.vocabSize, 30592)
        XCTAssertEqual(bert.numAttentionHeads, 4)
        let zh = try GLMConfig.load(path: try GLMFixtures.path("models/glm-tiny-chinese/config.json"))
        XCTAssertEqual(zh.tokenizer, "glm-large-chinese")
        XCTAssertEqual(zh.vocabSize, 50048)
        XCTAssertEqual(zh.parameterCount, 1_635_264) // the fixture's "parameter_count"
        XCTAssertEqual(bert.parameterCount, 1_012_672)
    }

    func testParameterSpecsMatchFixtureKeysInOrder() throws {
        let path = try GLMFixtures.path("models/glm-tiny-bert/config.json")
        let c = try GLMConfig.load(path: path)
        // The order of the torch-written checkpoint is named_parameters() order.
        let tf = try TorchFile(path: try GLMFixtures.path("models/glm-tiny-bert/checkpoint/1000/mp_rank_00_model_states.pt"))
        let keys = try XCTUnwrap(tf.root["module"]?.stringKeys)
        XCTAssertEqual(c.parameterSpecs.map(\.name), keys)
        let fixtureShapes = (try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any])["state_dict_keys"] as! [String: [Int]]
        for s in c.parameterSpecs { XCTAssertEqual(fixtureShapes[s.name], s.shape, s.name) }
    }

    func testBadConfigsGiveClearErrors() throws {
        let dir = try GLMFixtures.scratch(self)
        let p = dir + "/config.json"
        try #"{"num_layers": 2, "hidden_size": 30, "num_attention_heads": 4, "vocab_size": 10, "max_sequence_length": 8}"#.write(toFile: p, atomically: true, encoding: .utf8)
        assertGLMError(.config, mentions: [p, "not divisible"]) { try GLMConfig.load(path: p) }
        try #"{"num_layers": 2, "num_attention_heads": 4, "vocab_size": 10, "max_sequence_length": 8}"#.write(toFile: p, atomically: true, encoding: .utf8)
        assertGLMError(.config, mentions: [p, "\"hidden_size\""]) { try GLMConfig.load(path: p) }
        try #"{"num_layers": "two"}"#.write(toFile: p, atomically: true, encoding: .utf8)
        assertGLMError(.config, mentions: [p, "num_layers", "wrong type"]) { try GLMConfig.load(path: p) }
        try #"{"num_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "vocab_size": 10, "max_sequence_length": 8, "relative_encoding": true}"#.write(toFile: p, atomically: true, encoding: .utf8)
        assertGLMError(.config, mentions: [p, "relative_encoding"]) { try GLMConfig.load(path: p) }
    }

    func testPresetsMatchPublishedSizesAndTokenizerFixtures() throws {
        let published = ["glm-base", "glm-large", "glm-large-generation", "glm-410m", "glm-515m", "glm-roberta-large",
                         "glm-2b", "glm-10b", "glm-large-chinese", "glm-10b-chinese"]
        for n in published { XCTAssertNotNil(GLMPreset.named(n), n) }
        // Parameter counts the GLM paper/README publish (vocab-dependent ones only within a few percent).
        let expected: [(String, Double, Double)] = [("glm-base", 110e6, 0.01), ("glm-large", 335e6, 0.01),
                                                    ("glm-410m", 410e6, 0.01), ("glm-515m", 515e6, 0.01),
                                                    ("glm-2b", 2e9, 0.05), ("glm-10b", 10e9, 0.02),
                                                    ("glm-10b-chinese", 10e9, 0.02)]
        for (n, count, tol) in expected {
            let c = Double(GLMPreset.named(n)!.config.parameterCount)
            XCTAssertEqual(c, count, accuracy: count * tol, n)
        }
        // Sizes against the tokenizer fixtures (which were built from the same config scripts).
        var checked = 0
        for family in ["bert-base-uncased", "gpt2", "roberta", "chinese-sp"] {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: try GLMFixtures.path("tokenizers/\(family).json")))) as! [String: Any]
            let variants: [[String: Any]] = (json["variants"] as? [[String: Any]]) ?? ((json["variants"] as? [String: Any])?.values.compactMap { $0 as? [String: Any] } ?? [])
            for v in variants {
                let configs = (v["configs"] as? [Any]) ?? []
                for c in configs {
                    let script = (c as? String) ?? ((c as? [String: Any])?.values.compactMap { $0 as? String }.first { $0.hasSuffix(".sh") } ?? "")
                    guard let preset = GLMPreset.all.first(where: { script.hasSuffix($0.configScript) }) else {
                        XCTFail("no preset for \(script)"); continue
                    }
                    XCTAssertEqual(preset.vocabSize, v["padded_vocab_size"] as? Int, preset.name)
                    XCTAssertEqual(preset.tokenizerSize, v["num_tokens"] as? Int, preset.name)
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 11)
        for p in GLMPreset.all {
            XCTAssertNoThrow(try p.config.validate())
            XCTAssertEqual(p.vocabSize % 128, 0)
            XCTAssertEqual(p.vocabSize, (p.tokenizerSize + 127) / 128 * 128, p.name)
        }
        XCTAssertEqual(GLMPreset.named("glm-10b")!.config.headDim, 64)
        XCTAssertEqual(GLMPreset.named("glm-515m")!.config.headDim, 64)
    }
}
