import GLMEngine
import XCTest

/// `vocabParallelPickColumns` and `VocabParallelPicks` (the cloze scores and seq2seq label smoothing of
/// fine-tuning under tensor model parallelism) against the one-process `pickColumns`: 2 ranks simulated by
/// threads, each holding its vocabulary columns; picked columns lie on both halves.
final class VocabParallelPickTests: XCTestCase {
    let m = 2, v = 16, n = 5
    let indices = [[1, 9, 15], [8, 7, 0], [3, 3, 12], [14, 2, 8], [0, 15, 7]]

    /// Output and logits gradient of `pickColumns` (group nil) or its vocabulary-parallel form on `logits`.
    func run(_ logits: Tensor, logSoftmax: Bool, group: (any ModelParallelCollectives)?) throws -> [Tensor] {
        let tape = Tape()
        let x = Variable(logits, requiresGrad: true)
        let y = try group.map { try tape.vocabParallelPickColumns(x, indices: indices, logSoftmax: logSoftmax, group: $0) }
            ?? tape.pickColumns(x, indices: indices, logSoftmax: logSoftmax)
        try tape.backward(from: y, gradient: Tensor.randomNormal([n, 3], std: 1, seed: 11))
        return [y.value, x.grad!]
    }

    func assertSplitEqualsPlain(logSoftmax: Bool) throws -> Float {
        let logits = Tensor.randomNormal([n, v], std: 2, seed: 10)
        let plain = try run(try Tensor(shape: logits.shape, values: logits.toFloats()), logSoftmax: logSoftmax, group: nil)
        let ranks = try ThreadedModelParallelGroup(size: m).run { g -> [Tensor] in
            let part = modelParallelPart(self.v, rank: g.rank, size: self.m)
            return try self.run(try Tensor(shape: [self.n, self.v / self.m], values: ModelParallelTests.slice(logits, part, columns: true)),
                                logSoftmax: logSoftmax, group: g)
        }
        var worst: Float = 0
        for (r, out) in ranks.enumerated() {
            worst = max(worst, ModelParallelTests.worst(out[0].toFloats(), plain[0].toFloats()))
            let part = modelParallelPart(v, rank: r, size: m)
            worst = max(worst, ModelParallelTests.worst(out[1].toFloats(), ModelParallelTests.slice(plain[1], part, columns: true)))
        }
        XCTAssertLessThan(worst, 1e-6, "logSoftmax \(logSoftmax)")
        return worst
    }

    func testPickedLogitsAndGradientsEqualPickColumns() throws {
        let raw = try assertSplitEqualsPlain(logSoftmax: false)
        XCTAssertEqual(raw, 0, "raw picks are exact: one rank owns each column")
        let log = try assertSplitEqualsPlain(logSoftmax: true)
        print("[model parallel] vocab-parallel pickColumns: raw \(raw), log-softmax \(log) largest difference")
    }

    /// The inference reader: any number of columns per row, log-Σ-exp in float64.
    func testGatheredPicksEqualWholeRows() throws {
        let logits = Tensor.randomNormal([n, v], std: 2, seed: 12)
        let columns = [[1], [9, 0, 15], [], [8], [7, 6]]
        let whole = logits.toFloats()
        let ranks = try ThreadedModelParallelGroup(size: m).run { g -> VocabParallelPicks in
            let part = modelParallelPart(self.v, rank: g.rank, size: self.m)
            return try VocabParallelPicks.gather(try Tensor(shape: [self.n, self.v / self.m], values: ModelParallelTests.slice(logits, part, columns: true)),
                                                 columns: columns, logSumExp: true, group: g)
        }
        for picks in ranks {
            for r in 0..<n {
                let row = whole[(r * v)..<((r + 1) * v)].map(Double.init)
                let mx = row.max()!, lse = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
                XCTAssertEqual(picks.logSumExp[r], lse, accuracy: 1e-12)
                XCTAssertEqual(picks.values[r], columns[r].map { row[$0] })
            }
        }
    }
}
