import GLMEngine
import Foundation
import GLM
import XCTest
@testable import GLMGeneration

/// Quality of int8 decoding weights (`packedWeights: .int8`) against float32 on the generation fixtures'
/// prompts: greedy generation with each, step logits compared while both runs have chosen the same tokens
/// (a step is compared when every earlier step of that prompt agreed, so both see the same context; the
/// first disagreement is counted and ends that prompt). Reports top-1 agreement and max |Δ logit|.
/// Bounds ≈ 1.5× the measured values (hidden 32: each output sums only 32 quantised products, so the
/// relative error is larger than at real sizes), measured with the tied output projection kept bf16:
///   glm-tiny-bert-trained   102 steps, agreement 1.0000, 17/17 outputs identical, max |Δ| 0.192 (|logit| ≤ 17.6)
///   glm-tiny-bert-sharp     153 steps, agreement 0.9673, max |Δ| 0.754 (|logit| ≤ 12.8)
///   glm-tiny-chinese-sharp  145 steps, agreement 0.9517, max |Δ| 0.875 (|logit| ≤ 14.9)
///   glm-tiny-bert / -chinese 64 / 144 steps, agreement 1.0000, max |Δ| 0.0016 / 0.0011 (|logit| ≤ 0.61)
/// The trained model (peaked distributions, like a real model) must agree on ≥ 0.99 of its steps; the
/// "sharp" random models (weights scaled up so that greedy has margins) on ≥ 0.9.
final class Int8QualityTests: GenerationTestCase {
    func measure(_ model: String, maxLength: Int = 16) throws -> DecodingWeightsQuality {
        let path = try Fixtures.require("models/\(model)")
        let prompts = try Fixtures.json("generate/\(model).json").list("greedy").map { $0.string("prompt")! }
        let int8 = try GLMGenerator.load(path, packedWeights: .int8)
        let s = try DecodingWeightsQuality.measure(reference: try GLMGenerator.load(path, packedWeights: .float32),
                                                   candidate: int8, prompts: prompts, maxLength: maxLength)
        // Every weight of the int8 generator is packed as int8 only: no float32 pack beside the model's own.
        for p in int8.model.parameters where p.hasPackedCopy {
            XCTAssertEqual(p.packedStorageTypes, [.int8], "\(model) \(p.name)")
        }
        XCTAssertTrue(int8.model.parameters.contains { $0.packedStorageTypes == [.int8] })
        // Only the tied output projection keeps bf16 values in its int8-storage pack.
        XCTAssertEqual(int8.model.parameters.filter { !$0.quantizesToInt8 }.map(\.name), ["word_embeddings.weight"], model)
        return s
    }

    func testInt8AgreesWithFloat32OnFixturePrompts() throws {
        for model in Fixtures.generationModels {
            let s = try measure(model)
            print("[int8 vs fp32] \(model): \(s.summary)")
            XCTAssertGreaterThan(s.steps, s.prompts, model)
            XCTAssertGreaterThan(s.maxLogitDifference, 0, "\(model): int8 logits identical to fp32 — int8 not used?")
            let (minAgreement, maxDelta): (Double, Float) =
                model == "glm-tiny-bert-trained" ? (0.99, 0.3) : model.hasSuffix("-sharp") ? (0.9, 1.25) : (0.9, 0.01)
            XCTAssertGreaterThanOrEqual(s.agreement, minAgreement, model)
            XCTAssertLessThanOrEqual(s.maxLogitDifference, maxDelta, model)
        }
    }
}
