import GLMEngine
import GLM
import XCTest

/// Decoding packs each weight once per storage type, on the parameter, whoever asks (prepacking, the
/// K/V-cache forward on a packed tape, the memory forward's decode-sized products): no duplicate copies.
final class PackedWeightsTests: XCTestCase {
    func testEachWeightIsPackedOncePerStorageType() throws {
        let c = GLMConfig(numLayers: 2, hiddenSize: 32, numAttentionHeads: 4, vocabSize: 64, maxSequenceLength: 32)
        let model = try GLMModel.random(config: c, seed: 7)
        let matrices = model.transformer.layers.flatMap {
            [$0.attention.query_key_value.weight, $0.attention.dense.weight, $0.mlp.dense_h_to_4h.weight, $0.mlp.dense_4h_to_h.weight]
        } + [model.word_embeddings.weight]
        XCTAssertFalse(matrices.contains { $0.hasPackedCopy }, "nothing is packed before inference")

        let bf16 = Tape.inference(packedWeights: .bfloat16)
        try model.prepackWeights(for: bf16)
        for w in matrices {
            XCTAssertEqual(w.packedStorageTypes, [.bfloat16], w.name)
            XCTAssertEqual(w.packedCopyBuilds, 1, w.name)
        }
        // a prompt (M > 8) and decode steps on the packed tape reuse the copies
        let cache = GLMKVCache(model: model, batch: 1)
        let prompt = try Tensor(shape: [1, 12], ints: (0..<12).map { Int32($0 % 60) })
        let promptPositions = try Tensor(shape: [1, 2, 12], ints: (0..<12).map { Int32($0) } + Array(repeating: 0, count: 12))
        _ = try model.forward(ids: prompt, positionIds: promptPositions, mask: .sep([12]), cache: cache, tape: bf16)
        for k in 1...3 {
            _ = try model.forward(ids: try Tensor(shape: [1, 1], ints: [Int32(k)]),
                                  positionIds: try Tensor(shape: [1, 2, 1], ints: [11, Int32(k)]), mask: .sep([0]),
                                  cache: cache, tape: bf16)
        }
        for w in matrices { XCTAssertEqual(w.packedCopyBuilds, 1, "\(w.name) repacked during decoding") }

        // the default tape's decode-sized products add ONE float32 copy, once
        for _ in 0..<2 {
            let ids = try Tensor(shape: [1, 4], ints: [1, 2, 3, 4])
            let pos = try Tensor(shape: [1, 2, 4], ints: [0, 1, 2, 3, 0, 0, 0, 0])
            _ = try model.forward(ids: ids, positionIds: pos, mask: .sep([4]), tape: .inference())
        }
        for w in matrices {
            XCTAssertEqual(w.packedStorageTypes, [.bfloat16, .float32], w.name)
            XCTAssertEqual(w.packedCopyBuilds, 2, w.name)
        }
        // new values drop every copy
        model.word_embeddings.weight.markModified()
        XCTAssertFalse(model.word_embeddings.weight.hasPackedCopy)
    }
}
