import XCTest
import GLMEngine
@testable import GLM

/// A K/V cache kept in bfloat16: half the bytes; decoding through it differs from the float32 cache only by
/// rounding K and V once (logits close, not equal); beam-search row gathering and continuous batching
/// (`GLMRaggedKVCache`) keep working on it; bf16 and int8 decoding weights choose it.
final class BF16KVCacheTests: XCTestCase {
    let config = GLMConfig(numLayers: 2, hiddenSize: 32, numAttentionHeads: 4, vocabSize: 64, maxSequenceLength: 32)

    func prefill(_ model: GLMModel, _ prompt: [Int32], storage: DType, rows: Int = 1) throws -> (GLMKVCache, Tensor) {
        let cache = GLMKVCache(model: model, batch: rows, capacity: 20, storage: storage)
        let n = prompt.count
        var pos: [Int32] = []
        for _ in 0..<rows { pos += (0..<n).map { Int32($0) } + Array(repeating: 0, count: n) }
        let out = try model.forward(ids: try Tensor(shape: [rows, n], ints: Array((0..<rows).map { _ in prompt }.joined())),
                                    positionIds: try Tensor(shape: [rows, 2, n], ints: pos), mask: .sep([n]), cache: cache)
        return (cache, out.logits!.value)
    }

    func step(_ model: GLMModel, _ cache: GLMKVCache, ids: [Int32], position: Int32, block: Int32) throws -> Tensor {
        let r = ids.count
        let pos = Array((0..<r).map { _ in [position, block] }.joined())
        return try model.forward(ids: try Tensor(shape: [r, 1], ints: ids), positionIds: try Tensor(shape: [r, 2, 1], ints: pos),
                                 mask: .sep([0]), cache: cache).logits!.value
    }

    func testDecodingThroughABF16CacheStaysCloseToFloat32WithHalfTheBytes() throws {
        let model = try GLMModel.random(config: config, seed: 3)
        let prompt: [Int32] = [4, 9, 2, 17, 5, 30, 8]
        let (c32, l32) = try prefill(model, prompt, storage: .float32)
        let (c16, l16) = try prefill(model, prompt, storage: .bfloat16)
        XCTAssertEqual(c16.storage, .bfloat16)
        XCTAssertEqual(c16.byteCount * 2, c32.byteCount)
        // The prompt pass attends to the rounded keys too: already close, not identical.
        var worst = zip(l32.toFloats(), l16.toFloats()).map { abs($0 - $1) }.max()!
        var last = l32.toFloats()
        for s in 0..<6 {
            let next = Int32(last.indices.max { last[$0] < last[$1] }!)
            let a = try step(model, c32, ids: [next], position: Int32(prompt.count - 1), block: Int32(s + 1)).toFloats()
            let b = try step(model, c16, ids: [next], position: Int32(prompt.count - 1), block: Int32(s + 1)).toFloats()
            worst = max(worst, zip(a, b).map { abs($0 - $1) }.max()!)
            last = a
        }
        let scale = last.map { abs($0) }.max()!
        XCTAssertGreaterThan(worst, 0, "the bf16 cache must actually round")
        XCTAssertLessThan(worst, 2e-2 * max(scale, 1), "bf16-cache logits vs float32-cache logits (scale \(scale))")
        print("bf16 K/V cache: largest |Δ logit| over a prompt + 6 steps \(worst) (largest |logit| \(scale)); bytes \(c16.byteCount) vs \(c32.byteCount)")
    }

    /// Beam search reorders rows with `gathered`: on a bf16 cache the gathered rows decode exactly as before.
    func testGatheredRowsOfABF16CacheDecodeAsTheOriginalRows() throws {
        let model = try GLMModel.random(config: config, seed: 4)
        let (cache, _) = try prefill(model, [3, 1, 4, 1, 5], storage: .bfloat16, rows: 2)
        _ = try step(model, cache, ids: [7, 9], position: 4, block: 1)   // make the two rows differ
        let gathered = try cache.gathered(rows: [1, 0, 1])
        XCTAssertEqual(gathered.storage, .bfloat16)
        let original = try step(model, cache, ids: [11, 12], position: 4, block: 2).toFloats()
        let moved = try step(model, gathered, ids: [12, 11, 12], position: 4, block: 2).toFloats()
        let v = config.vocabSize
        XCTAssertEqual(Array(moved[0..<v]), Array(original[v..<(2 * v)]))
        XCTAssertEqual(Array(moved[v..<(2 * v)]), Array(original[0..<v]))
        XCTAssertEqual(Array(moved[(2 * v)...]), Array(original[v..<(2 * v)]))
    }

    /// Continuous batching over bf16 rows gives each row its one-row bf16 cache's logits.
    func testRaggedBatchOfBF16RowsEqualsOneRowBF16Caches() throws {
        let model = try GLMModel.random(config: config, seed: 5)
        let prompts: [[Int32]] = [[1, 5, 9, 3], [2, 8, 4, 4, 6, 11, 7]]
        let alone = try prompts.map { try prefill(model, $0, storage: .bfloat16).0 }
        let ragged = GLMRaggedKVCache()
        for p in prompts { try ragged.append(try prefill(model, p, storage: .bfloat16).0) }
        var worst: Float = 0
        for s in 0..<3 {
            let ids = prompts.indices.map { Int32(20 + $0 + s) }
            var flat: [Int32] = []
            for p in prompts { flat += [Int32(p.count - 1), Int32(s + 1)] }
            let logits = try model.forward(ids: try Tensor(shape: [2, 1], ints: ids), positionIds: try Tensor(shape: [2, 2, 1], ints: flat),
                                           raggedCache: ragged).logits!.value.toFloats()
            for (r, p) in prompts.enumerated() {
                let one = try step(model, alone[r], ids: [ids[r]], position: Int32(p.count - 1), block: Int32(s + 1)).toFloats()
                for v in 0..<config.vocabSize { worst = max(worst, abs(logits[r * config.vocabSize + v] - one[v])) }
            }
        }
        XCTAssertLessThan(worst, 1e-5)
    }

    /// A long prompt pass on a bf16 cache widens the used rows and runs the by-heads float32 attention; it
    /// computes what the bf16 kernels compute (forced here by raising the by-heads threshold).
    func testLongPromptPassOnABF16CacheEqualsTheKernelPath() throws {
        let model = try GLMModel.random(config: config, seed: 6)
        let n = 24
        let ids = try Tensor(shape: [2, n], ints: (0..<(2 * n)).map { Int32(($0 * 7) % 60 + 1) })
        let pos = try Tensor(shape: [2, 2, n], ints: Array((0..<2).map { _ in (0..<n).map { Int32($0) } + Array(repeating: 0, count: n) }.joined()))
        func run(_ tape: Tape) throws -> [Float] {
            let cache = GLMKVCache(model: model, batch: 2, capacity: 30, storage: .bfloat16)
            _ = try model.forward(ids: ids, positionIds: pos, mask: .sep([n / 2, n]), cache: cache, logits: .none, tape: tape)
            let next = try model.forward(ids: try Tensor(shape: [2, 1], ints: [3, 4]), positionIds: try Tensor(shape: [2, 2, 1], ints: [Int32(n - 1), 1, Int32(n - 1), 1]),
                                         mask: .sep([0]), cache: cache, tape: tape)
            return next.logits!.value.toFloats()
        }
        XCTAssertGreaterThanOrEqual(n, Tape.inference().attentionByHeadsMinQueries, "the prompt must take the by-heads path")
        let byHeads = try run(.inference())
        let kernels = Tape.inference()
        kernels.attentionByHeadsMinQueries = .max
        let viaKernels = try run(kernels)
        let worst = zip(byHeads, viaKernels).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-5, "long prompt on a bf16 cache: by-heads vs bf16 kernels")
    }

    func testDecodingWeightsChooseTheCachePrecision() {
        XCTAssertEqual(GLMKVCache.storage(forWeights: nil), .float32)
        XCTAssertEqual(GLMKVCache.storage(forWeights: .float32), .float32)
        XCTAssertEqual(GLMKVCache.storage(forWeights: .bfloat16), .bfloat16)
        XCTAssertEqual(GLMKVCache.storage(forWeights: .int8), .bfloat16)
    }
}
