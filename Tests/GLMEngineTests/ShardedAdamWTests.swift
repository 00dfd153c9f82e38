import XCTest
@testable import GLMEngine

/// ZeRO-1's optimizer: shards that together cover the parameters update exactly as one AdamW.
final class ShardedAdamWTests: XCTestCase {
    func parameters(seed: UInt64) -> [Parameter] {
        [Parameter(name: "w", value: Tensor.randomNormal([5, 7], seed: seed)),
         Parameter(name: "b", value: Tensor.randomNormal([7], seed: seed + 1), weightDecay: false),
         Parameter(name: "e", value: Tensor.randomNormal([3, 4], seed: seed + 2))]
    }

    func setGradients(_ ps: [Parameter], step: Int) {
        for (i, p) in ps.enumerated() {
            let g = Tensor.randomNormal(p.shape, seed: UInt64(100 * step + i))
            p.gradient.floats.update(from: g.floats, count: g.count)
        }
    }

    func testThreeShardsEqualOneAdamWBitForBit() throws {
        let whole = parameters(seed: 1), sharded = parameters(seed: 1)
        let adam = AdamW(parameters: whole, learningRate: 1e-2, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1)
        let total = sharded.reduce(0) { $0 + $1.value.count }   // 35 + 7 + 12 = 54: shards cut through tensors
        let cuts = [0, 20, 38, total]
        let shards = (0..<3).map { ShardedAdamW(parameters: sharded, range: cuts[$0]..<cuts[$0 + 1], beta1: 0.9, beta2: 0.98,
                                                eps: 1e-6, weightDecay: 0.1) }
        XCTAssertEqual(shards.flatMap(\.segments).reduce(0) { $0 + $1.count }, total)
        for step in 1...4 {
            setGradients(whole, step: step); setGradients(sharded, step: step)
            adam.step(learningRate: 1e-2, gradScale: 0.7)
            for s in shards { s.step(learningRate: 1e-2, gradScale: 0.7) }
        }
        for (a, b) in zip(whole, sharded) { XCTAssertEqual(a.value.toFloats(), b.value.toFloats(), a.name) }
        // Restoring shares from full moments gives back each shard's own moments.
        let restored = ShardedAdamW(parameters: sharded, range: cuts[1]..<cuts[2], beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1)
        try restored.restore(step: 4, expAvg: adam.exp_avg, expAvgSq: adam.exp_avg_sq)
        XCTAssertEqual(restored.expAvg.toFloats(), shards[1].expAvg.toFloats())
        XCTAssertEqual(restored.expAvgSq.toFloats(), shards[1].expAvgSq.toFloats())
    }
}
