import XCTest
import GLMEngine
@testable import GLM

/// `forward(raggedCache:)`: rows of different lengths decoded together give each row the logits of the
/// one-row K/V-cache path, step after step, and rows can leave between steps.
final class RaggedKVCacheTests: XCTestCase {
    func testRaggedStepsEqualOneRowCacheSteps() throws {
        let c = GLMConfig(numLayers: 2, hiddenSize: 32, numAttentionHeads: 4, vocabSize: 64, maxSequenceLength: 32)
        let model = try GLMModel.random(config: c, seed: 7)
        let prompts: [[Int32]] = [[1, 5, 9, 3], [2, 8, 4, 4, 6, 11, 7], [3, 3]]
        func prefill(_ p: [Int32]) throws -> GLMKVCache {
            let cache = GLMKVCache(model: model, batch: 1, capacity: 16)
            let n = p.count
            _ = try model.forward(ids: try Tensor(shape: [1, n], ints: p),
                                  positionIds: try Tensor(shape: [1, 2, n], ints: (0..<n).map { Int32($0) } + Array(repeating: 0, count: n)),
                                  mask: .sep([n]), cache: cache, logits: .none)
            return cache
        }
        let alone = try prompts.map(prefill)
        let ragged = GLMRaggedKVCache()
        for p in prompts { try ragged.append(try prefill(p)) }
        var live = Array(prompts.indices)
        var maxDelta: Float = 0
        for step in 0..<4 {
            if step == 2 { ragged.remove(at: [1]); live.remove(at: 1) }   // the middle row leaves
            let ids = live.map { Int32(10 + $0 + step) }
            let pos = live.map { Int32(prompts[$0].count - 1) } + live.map { _ in Int32(step + 1) }
            var flat: [Int32] = []
            for (k, _) in live.enumerated() { flat += [pos[k], pos[live.count + k]] }
            let out = try model.forward(ids: try Tensor(shape: [live.count, 1], ints: ids),
                                        positionIds: try Tensor(shape: [live.count, 2, 1], ints: flat), raggedCache: ragged)
            let logits = out.logits!.value
            for (k, r) in live.enumerated() {
                let one = try model.forward(ids: try Tensor(shape: [1, 1], ints: [ids[k]]),
                                            positionIds: try Tensor(shape: [1, 2, 1], ints: [flat[2 * k], flat[2 * k + 1]]),
                                            mask: .sep([0]), cache: alone[r]).logits!.value
                for v in 0..<c.vocabSize { maxDelta = max(maxDelta, abs(logits.floats[k * c.vocabSize + v] - one.floats[v])) }
                XCTAssertEqual(ragged.length(ofRow: k), alone[r].length, "row \(r) step \(step)")
            }
        }
        XCTAssertLessThan(maxDelta, 1e-5, "ragged vs one-row cache logits")
    }

    func testRejectsBadShapes() throws {
        let c = GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 2, vocabSize: 32, maxSequenceLength: 16)
        let model = try GLMModel.random(config: c, seed: 1)
        let ragged = GLMRaggedKVCache()
        XCTAssertThrowsError(try ragged.append(GLMKVCache(model: model, batch: 2, capacity: 4)))
        try ragged.append(GLMKVCache(model: model, batch: 1, capacity: 4))
        XCTAssertThrowsError(try model.forward(ids: try Tensor(shape: [2, 1], ints: [1, 2]),
                                               positionIds: try Tensor(shape: [2, 2, 1], ints: [0, 1, 0, 1]), raggedCache: ragged))
    }
}
