import GLMCheckpoint
import GLMEngine
import GLM
import XCTest

/// Tensor model parallelism on one process: M ranks simulated by threads (`ThreadedModelParallelGroup`),
/// each holding its `ModelParallel.split` partition, against the unpartitioned ops and model.
/// Tolerances: float32 summation-order noise (the partial products and sums are added in another order).
final class ModelParallelTests: XCTestCase {
    static func worst(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    /// Rows `part` of a [rows, cols] tensor, or columns `part` when `columns`.
    static func slice(_ t: Tensor, _ part: Range<Int>, columns: Bool = false) -> [Float] {
        let v = t.toFloats()
        if t.rank == 1 { return Array(v[part]) }
        let cols = t.shape[1]
        if !columns { return Array(v[(part.lowerBound * cols)..<(part.upperBound * cols)]) }
        return (0..<t.shape[0]).flatMap { r in v[(r * cols + part.lowerBound)..<(r * cols + part.upperBound)] }
    }

    /// Column-parallel h→4h, gelu, row-parallel 4h→h (the MLP): output and every gradient equal the plain layers'.
    func testColumnThenRowParallelLinearEqualsPlainLinears() throws {
        let m = 2, h = 8, f = 12
        let x = Tensor.randomNormal([3, 5, h], std: 1, seed: 1)
        let w1 = Tensor.randomNormal([f, h], std: 0.3, seed: 2), b1 = Tensor.randomNormal([f], std: 0.3, seed: 3)
        let w2 = Tensor.randomNormal([h, f], std: 0.3, seed: 4), b2 = Tensor.randomNormal([h], std: 0.3, seed: 5)
        let dy = Tensor.randomNormal([3, 5, h], std: 1, seed: 6)
        func run(_ w1: Tensor, _ b1: Tensor, _ w2: Tensor, _ group: (any ModelParallelCollectives)?) throws -> [Tensor] {
            let tape = Tape()
            let xv = Variable(try Tensor(shape: x.shape, values: x.toFloats()), requiresGrad: true)
            let p = [Parameter(name: "w1", value: w1), Parameter(name: "b1", value: b1),
                     Parameter(name: "w2", value: w2), Parameter(name: "b2", value: try Tensor(shape: [h], values: b2.toFloats()))]
            let y: Variable
            if let group {
                let up = try tape.gelu(try tape.columnParallelLinear(xv, weight: p[0], bias: p[1], group: group))
                y = try tape.rowParallelLinear(up, weight: p[2], bias: p[3], group: group)
            } else {
                y = try tape.linear(try tape.gelu(try tape.linear(xv, weight: p[0], bias: p[1])), weight: p[2], bias: p[3])
            }
            try tape.backward(from: y, gradient: dy)
            return [y.value, xv.grad!] + p.map(\.gradient)
        }
        let plain = try run(w1, b1, w2, nil)
        let ranks = try ThreadedModelParallelGroup(size: m).run { g -> [Tensor] in
            let rows = modelParallelPart(f, rank: g.rank, size: m)
            return try run(try Tensor(shape: [f / m, h], values: Self.slice(w1, rows)), try Tensor(shape: [f / m], values: Self.slice(b1, rows)),
                           try Tensor(shape: [h, f / m], values: Self.slice(w2, rows, columns: true)), g)
        }
        var worst: Float = 0
        for (r, out) in ranks.enumerated() {
            let rows = modelParallelPart(f, rank: r, size: m)
            worst = max(worst, Self.worst(out[0].toFloats(), plain[0].toFloats()))           // y (replicated)
            worst = max(worst, Self.worst(out[1].toFloats(), plain[1].toFloats()))           // dx (summed over ranks)
            worst = max(worst, Self.worst(out[2].toFloats(), Self.slice(plain[2], rows)))    // dW1 rows
            worst = max(worst, Self.worst(out[3].toFloats(), Self.slice(plain[3], rows)))    // db1 part
            worst = max(worst, Self.worst(out[4].toFloats(), Self.slice(plain[4], rows, columns: true)))  // dW2 columns
            worst = max(worst, Self.worst(out[5].toFloats(), plain[5].toFloats()))           // db2 (replicated)
        }
        print("[model parallel] column→row linear: largest difference \(worst)")
        XCTAssertLessThan(worst, 1e-5)
    }

    /// The vocabulary-parallel lookup and cross-entropy: outputs, per-token losses and gradients equal the
    /// plain embedding and cross-entropy (targets on both ranks' halves, a loss mask with zeros).
    func testVocabParallelEmbeddingAndCrossEntropyEqualPlainOps() throws {
        let m = 2, v = 16, c = 4, n = 6
        let table = Tensor.randomNormal([v, c], std: 1, seed: 7), logits = Tensor.randomNormal([n, v], std: 2, seed: 8)
        let ids = try Tensor(shape: [2, 3], ints: [0, 15, 7, 8, 3, 12])
        let targets = try Tensor(shape: [n], ints: [1, 14, 8, 7, 0, 9])
        let mask = try Tensor(shape: [n], values: [1, 1, 0, 1, 1, 1])
        let dy = Tensor.randomNormal([2, 3, c], std: 1, seed: 9)
        func run(_ table: Tensor, _ logits: Tensor, _ group: (any ModelParallelCollectives)?) throws -> [Tensor] {
            let tape = Tape()
            let t = Parameter(name: "word_embeddings.weight", value: table)
            let e = try group.map { try tape.vocabParallelEmbedding(ids, table: t, group: $0) } ?? tape.embedding(ids, table: t)
            try tape.backward(from: e, gradient: dy)
            let l = Variable(logits, requiresGrad: true)
            let ce = try group.map { try tape.vocabParallelCrossEntropy(l, targets: targets, lossMask: mask, group: $0) }
                ?? tape.crossEntropy(l, targets: targets, lossMask: mask)
            let loss = ce.loss.value.scalarValue, perToken = ce.perToken.toFloats()
            try tape.backward(ce.loss, seed: 0.5)
            return [e.value, t.gradient, try Tensor(shape: [1], values: [loss]), try Tensor(shape: [n], values: perToken), l.grad!]
        }
        let plain = try run(table, try Tensor(shape: logits.shape, values: logits.toFloats()), nil)
        let ranks = try ThreadedModelParallelGroup(size: m).run { g -> [Tensor] in
            let part = modelParallelPart(v, rank: g.rank, size: m)
            return try run(try Tensor(shape: [v / m, c], values: Self.slice(table, part)),
                           try Tensor(shape: [n, v / m], values: Self.slice(logits, part, columns: true)), g)
        }
        var worst: Float = 0
        for (r, out) in ranks.enumerated() {
            let part = modelParallelPart(v, rank: r, size: m)
            XCTAssertEqual(out[0].toFloats(), plain[0].toFloats(), "the lookup is exact (one rank contributes each row)")
            worst = max(worst, Self.worst(out[1].toFloats(), Self.slice(plain[1], part)))
            worst = max(worst, Self.worst(out[2].toFloats(), plain[2].toFloats()))
            worst = max(worst, Self.worst(out[3].toFloats(), plain[3].toFloats()))
            worst = max(worst, Self.worst(out[4].toFloats(), Self.slice(plain[4], part, columns: true)))
        }
        print("[model parallel] vocab-parallel embedding + cross-entropy: largest difference \(worst)")
        XCTAssertLessThan(worst, 1e-5)
    }

    /// The whole model split 2 ways, all three dropouts on: the loss and every parameter's gradient
    /// (gathered back to full shape) equal the one-process model's — the dropout masks of the sliced
    /// attention heads included. Sequence 20 runs attention head by head, 8 the batched path.
    func testPartitionedModelEqualsOneProcessWithDropout() throws {
        try assertSplitModelEqualsOneProcess(checkpointActivations: false)
    }

    /// The same with --checkpoint-activations: each layer (and its model-parallel sums) is recomputed in backward.
    func testPartitionedModelWithRecomputationEqualsOneProcess() throws {
        try assertSplitModelEqualsOneProcess(checkpointActivations: true)
    }

    func assertSplitModelEqualsOneProcess(checkpointActivations: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        var config = GLMConfig(numLayers: 2, hiddenSize: 16, numAttentionHeads: 4, vocabSize: 64, maxSequenceLength: 32)
        config.embeddingDropoutProb = 0.1; config.attentionDropoutProb = 0.2; config.outputDropoutProb = 0.1
        config.checkpointActivations = checkpointActivations
        let full = try GLMModel.random(config: config, seed: 11)
        for s in [20, 8] {
            let b = 2
            let ids = try Tensor(shape: [b, s], ints: (0..<(b * s)).map { Int32(($0 * 37 + 5) % 64) })
            let positions = try Tensor(shape: [b, 2, s], ints: (0..<b).flatMap { _ in (0..<s).map { Int32($0) } + (0..<s).map { Int32(max(0, $0 - s / 2)) } })
            let targets = try Tensor(shape: [b * s], ints: (0..<(b * s)).map { Int32(($0 * 11 + 3) % 64) })
            let mask = try Tensor(shape: [b * s], values: (0..<(b * s)).map { $0 % 3 == 0 ? 0 : 1 })
            func run(_ model: GLMModel) throws -> (Float, [Tensor]) {
                for p in model.parameters { p.zeroGrad() }
                let tape = Tape(recording: true, training: true, dropoutSeed: 99)
                let out = try model.forward(ids: ids, positionIds: positions, mask: .sep([s / 2, s / 3]), logits: .none, tape: tape)
                let flat = try tape.reshape(out.hidden, [b * s, config.hiddenSize])
                let ce = try model.crossEntropy(try model.vocabularyLogits(flat, tape: tape), targets: targets, lossMask: mask, tape: tape)
                try tape.backward(ce.loss)
                return (ce.loss.value.scalarValue, try model.gatherFull(model.parameters.map(\.gradient)))
            }
            let (loss, grads) = try run(full)
            let ranks = try ThreadedModelParallelGroup(size: 2).run { g in try run(try GLMModel(partitioning: full, group: g)) }
            var worstGrad: Float = 0, worstLoss: Float = 0
            for (l, gs) in ranks {
                worstLoss = max(worstLoss, abs(l - loss) / abs(loss))
                for (a, b) in zip(gs, grads) { worstGrad = max(worstGrad, Self.worst(a.toFloats(), b.toFloats())) }
            }
            print("[model parallel] GLM split 2 ways, seq \(s), dropout on\(checkpointActivations ? ", recomputed" : ""): loss \(loss), relative loss difference \(worstLoss), largest gradient difference \(worstGrad)")
            XCTAssertLessThan(worstLoss, 1e-5, file: file, line: line)
            XCTAssertLessThan(worstGrad, 1e-5, file: file, line: line)
        }
    }

    /// Partitioning is `ModelParallel.split` of every parameter, and merging the ranks' state dicts with
    /// `ModelParallel.merge` gives the model back exactly; building the partition directly (seeded random
    /// initialisation, a state dict) gives the same partition.
    func testPartitionsMergeBackToTheModel() throws {
        let config = GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 4, vocabSize: 64, maxSequenceLength: 16)
        let full = try GLMModel.random(config: config, seed: 5)
        let parts = try ThreadedModelParallelGroup(size: 2).run { g in try GLMModel(partitioning: full, group: g).stateDict() }
        for (i, p) in full.parameters.enumerated() {
            let merged = try ModelParallel.merge(parts.map { $0[i].1 }, name: p.name, files: ["0", "1"])
            XCTAssertEqual(merged.shape, p.shape, p.name)
            XCTAssertEqual(merged.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, p.value.toFloats(), p.name)
        }
        // Built tensor by tensor (random initialisation, a state dict) = the partition of the whole model.
        var dict: StateDict = [:]
        for (n, t) in full.stateDict() { dict[n] = t }
        let direct = try ThreadedModelParallelGroup(size: 2).run { g in
            (try GLMModel.random(config: config, seed: 5, modelParallel: g).stateDict(),
             try GLMModel(config: config, stateDict: dict, partitionOf: g).stateDict())
        }
        for (r, (random, loaded)) in direct.enumerated() {
            for (i, p) in parts[r].enumerated() {
                let want = p.1.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                XCTAssertEqual(random[i].1.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, want, "random, rank \(r), \(p.0)")
                XCTAssertEqual(loaded[i].1.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, want, "state dict, rank \(r), \(p.0)")
            }
        }
        XCTAssertThrowsError(try ThreadedModelParallelGroup(size: 3).run { g in try GLMModel(partitioning: full, group: g) }) { e in
            XCTAssertTrue("\(e)".contains("does not divide"), "\(e)")
        }
    }
}
