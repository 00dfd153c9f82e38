import Foundation
import GLM
import GLMCheckpoint
import GLMEngine
import GLMTestSupport
import XCTest
@testable import GLMGeneration

/// A bf16/int8 conversion decoded memory-mapped (`MappedModel`: the layer weights read in place from the
/// file, no float32 copy) against a float32 model converted back from THE SAME bf16/int8 values:
/// * int8: the float32 model packed to int8 requantises scale·q to the same q and scales, so both run
///   the same kernel on the same bytes: identical logits (measured max |Δ| 0);
/// * bf16: the mapped kernel computes in fp32 on the widened bf16 values, so the reference is the
///   float32 model with float32 packed weights and the same bf16 K/V cache the bf16 weights bring; only
///   the summation order of the products differs, but a key or value that lands on the other side of a
///   bf16 rounding boundary moves by 2⁻⁸ relative, so the cache amplifies it (measured max |Δ| 5.7e-6 on
///   glm-tiny-bert-trained, 1.2e-4 on glm-tiny-bert-sharp at |logit| ≤ 12.7; with float32 caches 2.9e-5;
///   bound 5e-4).
/// Greedy ids must be equal on every fixture prompt.
final class MappedDecodingTests: GenerationTestCase {
    func testMappedBF16AndInt8DecodeAsTheFloat32ModelOfTheSameValues() throws {
        for model in ["glm-tiny-bert-trained", "glm-tiny-bert-sharp"] {
            let path = try Fixtures.require("models/\(model)")
            let prompts = Array(try Fixtures.json("generate/\(model).json").list("greedy").map { $0.string("prompt")! }.prefix(6))
            let scratch = try ReferenceFixtures.scratchFolder(for: self, prefix: "mapped-\(model)")
            for (target, storage, referencePack, bound) in [(ConversionTarget.float(.bfloat16), GEMMInputType.bfloat16, GEMMInputType.float32, Float(5e-4)),
                                                             (.int8, .int8, .int8, Float(1e-6))] {
                let converted = scratch + "/" + target.name, back = scratch + "/" + target.name + "-f32"
                _ = try StreamingConverter.convert(source: path, to: converted, target: target)
                _ = try StreamingConverter.convert(source: converted, to: back, target: .float(.float32))
                XCTAssertEqual(MappedModel.storage(of: converted), storage)
                XCTAssertNil(MappedModel.storage(of: back))

                let mapped = try GLMGenerator.load(converted, packedWeights: storage, mapConverted: true)
                let layerWeights = mapped.model.transformer.layers.flatMap {
                    [$0.attention.query_key_value.weight, $0.attention.dense.weight, $0.mlp.dense_h_to_4h.weight, $0.mlp.dense_4h_to_h.weight]
                }
                for w in layerWeights {
                    XCTAssertFalse(w.holdsValues, "\(w.name): a float32 copy was made")
                    XCTAssertEqual(w.installedStorage, storage, w.name)
                    XCTAssertFalse(w.hasPackedCopy, "\(w.name): packed from float32 instead of the file")
                }
                let reference = try GLMGenerator.load(back, packedWeights: referencePack)
                reference.kvCacheStorage = mapped.kvCacheStorage   // the same cache: only the weights' path differs
                XCTAssertEqual(mapped.kvCacheStorage, .bfloat16)
                let q = try DecodingWeightsQuality.measure(reference: reference, candidate: mapped, prompts: prompts, maxLength: 12)
                print("[mapped \(storage.shortName) vs f32 of the same values] \(model): \(q.summary)")
                XCTAssertEqual(q.agreement, 1, "\(model) \(storage.shortName)")
                XCTAssertEqual(q.identicalPrompts, q.prompts, "\(model) \(storage.shortName): greedy ids differ")
                XCTAssertLessThanOrEqual(q.maxLogitDifference, bound, "\(model) \(storage.shortName)")

                // Asking the mapped model for other decoding weights is an error that says what to do.
                XCTAssertThrowsError(try GLMGenerator.load(converted, packedWeights: .float32, mapConverted: true)) { e in
                    XCTAssertTrue("\(e)".contains("\(storage.shortName) weights"), "\(e)")
                }
            }
        }
    }

    func testTrainingAMappedModelIsRefused() throws {
        let path = try Fixtures.require("models/glm-tiny-bert")
        let scratch = try ReferenceFixtures.scratchFolder(for: self, prefix: "mapped-train")
        _ = try StreamingConverter.convert(source: path, to: scratch + "/int8", target: .int8)
        let (model, _) = try MappedModel.load(scratch + "/int8")
        let ids = try Tensor(shape: [1, 4], ints: [5, 6, 7, 8])
        let pos = try Tensor(shape: [1, 2, 4], ints: [0, 1, 2, 3, 0, 0, 0, 0])
        let tape = Tape(recording: true, training: true)
        XCTAssertThrowsError(try model.forward(ids: ids, positionIds: pos, mask: .sep([4]), tape: tape)) { e in
            XCTAssertTrue("\(e)".contains("cannot be trained"), "\(e)")
            XCTAssertTrue("\(e)".contains("transformer.layers.0.attention.query_key_value.weight"), "\(e)")
        }
        // Inference on the same model works (and needs no float32 values).
        let out = try model.forward(ids: ids, positionIds: pos, mask: .sep([4]), tape: .inference())
        XCTAssertEqual(out.logits?.shape, [1, 4, model.config.vocabSize])
    }
}
