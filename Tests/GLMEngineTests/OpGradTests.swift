import XCTest
@testable import GLMEngine

/// Every op: float32 forward vs a naive float64 reference, and backward vs float64 finite differences
/// (through `gradcheck`). Shapes are deliberately odd (not multiples of 16 or 2).
final class OpGradTests: XCTestCase {
    func testLinear() throws {
        for (m, k, n) in [(1, 3, 5), (7, 13, 9), (2 * 3, 17, 33)] {
            let r = try gradcheck("linear \(m)x\(k)->\(n)", inputs: [randn([m, k], seed: 1), randn([n, k], seed: 2), randn([n], seed: 3)],
                                  reference: { Ref.matmul($0[0], $0[1], m: m, n: n, k: k, transB: true, bias: $0[2]) },
                                  referenceBackward: { x, dy in
                                      let (dx, dw) = Ref.matmulBackward(x[0], x[1], dy, m: m, n: n, k: k, transB: true)
                                      return [dx, dw, Ref.columnSums(dy, c: n)]
                                  },
                                  op: { try $0.linear($1[0], weight: $1[1], bias: $1[2]) })
            XCTAssertLessThan(r.grad, 4e-6)
        }
        // rank-3 input, no bias
        try gradcheck("linear rank3", inputs: [randn([3, 5, 7], seed: 4), randn([11, 7], seed: 5)],
                      reference: { Ref.matmul($0[0], $0[1], m: 15, n: 11, k: 7, transB: true) },
                      referenceBackward: { x, dy in let g = Ref.matmulBackward(x[0], x[1], dy, m: 15, n: 11, k: 7, transB: true); return [g.0, g.1] },
                      op: { try $0.linear($1[0], weight: $1[1]) })
    }

    func testMatmulTransposesAndBatch() throws {
        let (m, k, n) = (5, 7, 3)
        for ta in [false, true] { for tb in [false, true] {
            let a = randn(ta ? [k, m] : [m, k], seed: 6), b = randn(tb ? [n, k] : [k, n], seed: 7)
            try gradcheck("matmul \(ta)\(tb)", inputs: [a, b],
                          reference: { Ref.matmul($0[0], $0[1], m: m, n: n, k: k, transA: ta, transB: tb) },
                          referenceBackward: { x, dy in
                              let g = Ref.matmulBackward(x[0], x[1], dy, m: m, n: n, k: k, transA: ta, transB: tb); return [g.0, g.1]
                          },
                          op: { try $0.matmul($1[0], $1[1], transposeA: ta, transposeB: tb) })
        } }
        let bt = 3
        try gradcheck("batched matmul NT", inputs: [randn([bt, m, k], seed: 8), randn([bt, n, k], seed: 9)],
                      reference: { x in (0..<bt).flatMap { i in
                          Ref.matmul(Array(x[0][(i * m * k)..<((i + 1) * m * k)]), Array(x[1][(i * n * k)..<((i + 1) * n * k)]),
                                     m: m, n: n, k: k, transB: true) } },
                      referenceBackward: { x, dy in
                          var da = [Double](), db = [Double]()
                          for i in 0..<bt {
                              let g = Ref.matmulBackward(Array(x[0][(i * m * k)..<((i + 1) * m * k)]), Array(x[1][(i * n * k)..<((i + 1) * n * k)]),
                                                         Array(dy[(i * m * n)..<((i + 1) * m * n)]), m: m, n: n, k: k, transB: true)
                              da += g.0; db += g.1
                          }
                          return [da, db]
                      },
                      op: { try $0.matmul($1[0], $1[1], transposeB: true) })
    }

    func testAddBiasScale() throws {
        try gradcheck("add", inputs: [randn([3, 7], seed: 1), randn([3, 7], seed: 2)],
                      reference: { zip($0[0], $0[1]).map(+) }, referenceBackward: { _, dy in [dy, dy] }, op: { try $0.add($1[0], $1[1]) })
        try gradcheck("biasAdd", inputs: [randn([5, 9], seed: 3), randn([9], seed: 4)],
                      reference: { x in x[0].indices.map { x[0][$0] + x[1][$0 % 9] } },
                      referenceBackward: { _, dy in [dy, Ref.columnSums(dy, c: 9)] }, op: { try $0.biasAdd($1[0], $1[1]) })
        try gradcheck("scale", inputs: [randn([31], seed: 5)], reference: { $0[0].map { $0 * -0.75 } }, referenceBackward: { _, dy in [dy.map { $0 * -0.75 }] },
                      op: { try $0.scale($1[0], -0.75) })
        // the same variable used twice: gradients must accumulate (d(x+x)/dx = 2)
        try gradcheck("add x+x", inputs: [randn([2, 5], seed: 6)], reference: { $0[0].map { 2 * $0 } }, referenceBackward: { _, dy in [dy.map { 2 * $0 }] },
                      op: { try $0.add($1[0], $1[0]) })
    }

    func testGelu() throws {
        try gradcheck("gelu", inputs: [randn([3, 37], seed: 7, std: 2)], reference: { $0[0].map(Ref.gelu) },
                      referenceBackward: { x, dy in [zip(x[0], dy).map { Ref.geluDerivative($0) * $1 }] },
                      op: { try $0.gelu($1[0]) })
    }

    func testLayerNorm() throws {
        for c in [1, 7, 33] {
            let x = randn([5, c], seed: 8, std: 2), w = randn([c], seed: 9), b = randn([c], seed: 10)
            try gradcheck("layerNorm C=\(c)", inputs: [x, w, b],
                          reference: { Ref.layerNorm($0[0], $0[1], $0[2], c: c, eps: 1e-5) },
                          referenceBackward: { x, dy in let g = Ref.layerNormBackward(x[0], x[1], dy, c: c, eps: 1e-5); return [g.0, g.1, g.2] },
                          op: { try $0.layerNorm($1[0], weight: $1[1], bias: $1[2], eps: 1e-5) })
        }
    }

    func testEmbeddingSum() throws {
        let ids1 = try Tensor(shape: [2, 3], ints: [0, 4, 4, 1, 2, 0]), ids2 = try Tensor(shape: [2, 3], ints: [1, 1, 2, 0, 3, 3])
        let v1 = 5, v2 = 4, c = 3
        try gradcheck("embeddingSum", inputs: [randn([v1, c], seed: 11), randn([v2, c], seed: 12)],
                      reference: { x in
                          let a = ids1.toInts(), b = ids2.toInts()
                          return (0..<6).flatMap { i in (0..<c).map { j in x[0][Int(a[i]) * c + j] + x[1][Int(b[i]) * c + j] } }
                      },
                      referenceBackward: { _, dy in
                          var g1 = [Double](repeating: 0, count: v1 * c), g2 = [Double](repeating: 0, count: v2 * c)
                          let a = ids1.toInts(), b = ids2.toInts()
                          for i in 0..<6 { for j in 0..<c { g1[Int(a[i]) * c + j] += dy[i * c + j]; g2[Int(b[i]) * c + j] += dy[i * c + j] } }
                          return [g1, g2]
                      },
                      op: { try $0.embeddingSum([(ids1, $1[0]), (ids2, $1[1])]) })
        // out-of-range ids: a clear error, not a crash
        let bad = try Tensor(shape: [2], ints: [1, 9])
        XCTAssertThrowsError(try Tape().embedding(bad, table: Variable(randn([5, 2], seed: 1)))) { e in
            XCTAssertTrue("\(e)".contains("element 1 is 9"), "\(e)")
        }
    }

    func testCrossEntropyWithMask() throws {
        let n = 7, v = 11
        let targets = try Tensor(shape: [n], ints: [0, 10, 3, 3, 7, 1, 5])
        let mask = try Tensor(shape: [n], values: [1, 0, 1, 1, 0, 1, 1])
        let m = mask.toFloats().map(Double.init)
        try gradcheck("crossEntropy", inputs: [randn([n, v], seed: 13, std: 3)],
                      reference: { x in
                          let rows = Ref.crossEntropyRows(x[0], targets: targets.toInts(), v: v)
                          return [zip(rows, m).reduce(0) { $0 + $1.0 * $1.1 } / m.reduce(0, +)]
                      },
                      referenceBackward: { x, dy in [Ref.crossEntropyBackward(x[0], targets: targets.toInts(), mask: m, v: v, dy0: dy[0])] },
                      op: { try $0.crossEntropy($1[0], targets: targets, lossMask: mask).loss })
        // per-token losses are the unmasked row losses
        let logits = randn([n, v], seed: 14)
        let r = try Tape.inference().crossEntropy(Variable(logits), targets: targets, lossMask: mask)
        assertClose(doubles(r.perToken), Ref.crossEntropyRows(doubles(logits), targets: targets.toInts(), v: v), tol: 1e-6, "per-token CE")
        XCTAssertThrowsError(try Tape().crossEntropy(Variable(logits), targets: targets, lossMask: Tensor(zeros: [n])))
    }

    func testCrossEntropyBackwardReusesLogitsBuffer() throws {
        // logits produced by an op and consumed only by the loss: the backward overwrites the logits buffer
        // with d loss/d logits = (softmax − onehot)/N instead of allocating a second [N × V] buffer.
        let tape = Tape()
        let h = Variable(randn([4, 6], seed: 15), requiresGrad: true), w = Parameter(name: "w", value: randn([9, 6], seed: 16))
        let logits = try tape.linear(h, weight: w)
        let orig = doubles(logits.value)
        let targets = try Tensor(shape: [4], ints: [1, 2, 3, 8])
        let loss = try tape.crossEntropy(logits, targets: targets).loss
        try tape.backward(loss)
        var want = [Double]()
        for r in 0..<4 {
            let row = Array(orig[(r * 9)..<(r * 9 + 9)])
            let z = row.map { exp($0 - row.max()!) }.reduce(0, +)
            for j in 0..<9 { want.append((exp(row[j] - row.max()!) / z - (j == Int(targets.toInts()[r]) ? 1 : 0)) / 4) }
        }
        assertClose(doubles(logits.value), want, tol: 1e-5, "logits buffer holds the gradient after backward")
        XCTAssertNotNil(h.grad)
    }

    func testDropout() throws {
        let x = randn([5, 41], seed: 17)
        // the mask the op uses, read back by running it on ones
        let tapeMask = Tape(dropoutSeed: 1234)
        let ones = Tensor(zeros: [5, 41]); ones.fill(1)
        let maskOut = try tapeMask.dropout(Variable(ones, requiresGrad: true), p: 0.3).value.toFloats().map(Double.init)
        try gradcheck("dropout", inputs: [x], reference: { zip($0[0], maskOut).map(*) },
                      referenceBackward: { _, dy in [zip(dy, maskOut).map(*)] },
                      op: { tape, v in tape.dropoutSeed = 1234; return try tape.dropout(v[0], p: 0.3) })
        let kept = maskOut.filter { $0 != 0 }.count
        XCTAssertTrue(kept > 100 && kept < 180, "kept \(kept) of 205 at p = 0.3")
        XCTAssert(maskOut.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        // inference: identity, same variable
        let v = Variable(x)
        XCTAssertTrue(try Tape.inference().dropout(v, p: 0.5) === v)
    }

    func testReshapeAndSliceViewsCarryGradients() throws {
        try gradcheck("reshape→linear", inputs: [randn([2, 3, 4], seed: 18), randn([5, 12], seed: 19)],
                      reference: { Ref.matmul($0[0], $0[1], m: 2, n: 5, k: 12, transB: true) },
                      referenceBackward: { x, dy in let g = Ref.matmulBackward(x[0], x[1], dy, m: 2, n: 5, k: 12, transB: true); return [g.0, g.1] },
                      op: { try $0.linear(try $0.reshape($1[0], [2, 12]), weight: $1[1]) })
        try gradcheck("slice→gelu", inputs: [randn([4, 3], seed: 20)],
                      reference: { Array($0[0][3..<9]).map(Ref.gelu) },
                      referenceBackward: { x, dy in [[0, 0, 0] + zip(x[0][3..<9], dy).map { Ref.geluDerivative($0) * $1 } + [0, 0, 0]] },
                      op: { try $0.gelu(try $0.slice($1[0], 1..<3)) })
    }

    func testGradientsAccumulateIntoParameters() throws {
        let w = Parameter(name: "w", value: randn([3, 4], seed: 21))
        let x = randn([2, 4], seed: 22)
        for _ in 0..<2 {
            let tape = Tape()
            let y = try tape.linear(Variable(x), weight: w)
            try tape.backward(from: y, gradient: Tensor(zeros: [2, 3]).filled(1))
        }
        // dW = Σ_rows x, twice
        let xd = doubles(x)
        let want = (0..<3).flatMap { _ in (0..<4).map { j in 2 * (xd[j] + xd[4 + j]) } }
        assertClose(doubles(w.gradient), want, tol: 1e-6, "accumulated dW")
        w.zeroGrad()
        XCTAssert(w.gradient.toFloats().allSatisfy { $0 == 0 })
    }

    func testInferenceTapeRecordsNothing() throws {
        let tape = Tape.inference()
        let w = Parameter(name: "w", value: randn([3, 4], seed: 23))
        let y = try tape.gelu(try tape.linear(Variable(randn([2, 4], seed: 24)), weight: w))
        XCTAssertEqual(tape.recordedCount, 0)
        XCTAssertFalse(y.requiresGrad)
        XCTAssertThrowsError(try tape.backward(from: y, gradient: Tensor(zeros: y.shape)))
    }
}

extension Tensor {
    func filled(_ v: Float) -> Tensor { fill(v); return self }
}
