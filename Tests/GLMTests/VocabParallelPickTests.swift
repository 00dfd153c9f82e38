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

/// The vocabulary-parallel lookup's backward must not depend on the caller keeping its ids tensor: the
/// cloze forward builds one per call and drops it before the backward pass (pooled storage is then reused).
final class VocabParallelEmbeddingLifetimeTests: XCTestCase {
    func testBackwardAfterTheIdsTensorIsReleased() throws {
        let m = 2, v = 8, c = 3
        let table = Tensor.randomNormal([v, c], std: 1, seed: 3)
        let ranks = try ThreadedModelParallelGroup(size: m).run { g -> [Float] in
            let part = modelParallelPart(v, rank: g.rank, size: m)
            let t = Parameter(name: "word_embeddings.weight",
                              value: try Tensor(shape: [v / m, c], values: ModelParallelTests.slice(table, part)))
            let tape = Tape()
            func lookup() throws -> Variable {   // the ids tensor lives only in here
                try tape.vocabParallelEmbedding(try Tensor(shape: [4], ints: [1, 6, 6, 3]), table: t, group: g)
            }
            let e = try lookup()
            let reuse = try Tensor(shape: [4], ints: [0, 0, 0, 0])   // takes the released buffer, if pooled
            try tape.backward(from: e, gradient: try Tensor(shape: [4, c], values: [Float](repeating: 1, count: 4 * c)))
            _ = reuse
            return t.gradient.toFloats()
        }
        // Row sums of dE: ids 1, 6, 6, 3 → rows 1 and 3 (rank 0) once, row 6 (rank 1, local row 2) twice.
        let expected: [[Float]] = [[0, 1, 0, 1].flatMap { [Float](repeating: $0, count: c) },
                                   [0, 0, 2, 0].flatMap { [Float](repeating: $0, count: c) }]
        XCTAssertEqual(ranks, expected)
    }
}
