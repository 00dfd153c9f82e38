import Foundation
import XCTest
@testable import GLMEngine

/// The continuous-prompt (P-tuning) ops: float32 forward vs float64 references and backward vs float64
/// finite differences (`gradcheck`: gradient tolerance 4e-6 normalized error, FD check 1e-6).
final class PromptOpsGradTests: XCTestCase {
    static func relu(_ x: [Double]) -> [Double] { x.map { max($0, 0) } }

    func testRelu() throws {
        try gradcheck("relu", inputs: [randn([7, 5], seed: 11)], reference: { Self.relu($0[0]) },
                      referenceBackward: { x, dy in [zip(x[0], dy).map { $0 > 0 ? $1 : 0 }] },
                      op: { try $0.relu($1[0]) })
    }

    func testOverwriteRows() throws {
        let (r, s, c) = (6, 3, 5)
        let rows = [4, 1, 2, 5], src = [0, 2, 0, 1]   // source row 0 feeds two rows
        try gradcheck("overwriteRows", inputs: [randn([r, c], seed: 12), randn([s, c], seed: 13)],
                      reference: { x in
                          var y = x[0]
                          for (k, row) in rows.enumerated() { for j in 0..<c { y[row * c + j] = x[1][src[k] * c + j] } }
                          return y
                      },
                      referenceBackward: { _, dy in
                          var dx = dy, ds = [Double](repeating: 0, count: s * c)
                          for (k, row) in rows.enumerated() {
                              for j in 0..<c { ds[src[k] * c + j] += dy[row * c + j]; dx[row * c + j] = 0 }
                          }
                          return [dx, ds]
                      },
                      op: { try $0.overwriteRows($1[0], rows: rows, source: $1[1], sourceRows: src) })
        // Only the source trained (a frozen embedding table): no gradient for x.
        let tape = Tape()
        let x = Variable(randn([r, c], seed: 14)), source = Variable(randn([s, c], seed: 15), requiresGrad: true)
        let y = try tape.overwriteRows(x, rows: rows, source: source, sourceRows: src)
        try tape.backward(from: y, gradient: randn([r, c], seed: 16))
        XCTAssertNil(x.grad)
        XCTAssertNotNil(source.grad)
        XCTAssertThrowsError(try Tape().overwriteRows(x, rows: [1, 1], source: source, sourceRows: [0, 1]))
        XCTAssertThrowsError(try Tape().overwriteRows(x, rows: [r], source: source, sourceRows: [0]))
    }

    /// The `mlp` prompt head as `PromptEncoder.encode` composes it: Linear(h,h) → ReLU → Linear(h,h)
    /// over the prompt embeddings [N, h]; gradients of the embeddings and all four head tensors.
    func testMLPPromptHead() throws {
        let (n, h) = (5, 7)
        func forward(_ x: [[Double]]) -> (z: [Double], a: [Double], y: [Double]) {
            let z = Ref.matmul(x[0], x[1], m: n, n: h, k: h, transB: true, bias: x[2])
            let a = Self.relu(z)
            return (z, a, Ref.matmul(a, x[3], m: n, n: h, k: h, transB: true, bias: x[4]))
        }
        let r = try gradcheck("mlp prompt head", inputs: [randn([n, h], seed: 21), randn([h, h], seed: 22, std: 0.4), randn([h], seed: 23, std: 0.4),
                                                          randn([h, h], seed: 24, std: 0.4), randn([h], seed: 25, std: 0.4)],
                              reference: { forward($0).y },
                              referenceBackward: { x, dy in
                                  let f = forward(x)
                                  let (da, dw2) = Ref.matmulBackward(f.a, x[3], dy, m: n, n: h, k: h, transB: true)
                                  let dz = zip(da, f.z).map { $1 > 0 ? $0 : 0 }
                                  let (de, dw0) = Ref.matmulBackward(x[0], x[1], dz, m: n, n: h, k: h, transB: true)
                                  return [de, dw0, Ref.columnSums(dz, c: h), dw2, Ref.columnSums(dy, c: h)]
                              },
                              op: { t, v in
                                  try t.linear(try t.relu(try t.linear(v[0], weight: v[1], bias: v[2])), weight: v[3], bias: v[4])
                              })
        XCTAssertLessThan(r.grad, 4e-6)
    }

    /// A frozen parameter gets no gradient buffer while the gradient still flows through it.
    func testFrozenParameter() throws {
        let w = Parameter(name: "w", value: randn([3, 4], seed: 31))
        let x = Variable(randn([2, 4], seed: 32), requiresGrad: true)
        w.isFrozen = true
        let tape = Tape()
        let y = try tape.linear(x, weight: w)
        try tape.backward(from: y, gradient: randn([2, 3], seed: 33))
        XCTAssertNotNil(x.grad)
        XCTAssertFalse(w.requiresGrad)
        XCTAssertNil(w.gradStorage, "a frozen parameter has no gradient buffer")
        w.isFrozen = false
        XCTAssertTrue(w.requiresGrad)
    }
}

/// The lstm prompt head's coarse op: one bidirectional LSTM layer, float32 op vs an independent naive
/// float64 forward (torch.nn.LSTM's equations) and the op's float64 BPTT vs finite differences of it.
final class LSTMGradTests: XCTestCase {
    static func sigmoid(_ v: Double) -> Double { 1 / (1 + Foundation.exp(-v)) }

    /// x [T, I], one direction: h_t = o ⊙ tanh(c_t), c_t = f ⊙ c_{t-1} + i ⊙ g, gates from W_ih x + b_ih + W_hh h + b_hh.
    static func direction(_ x: [Double], _ w: ArraySlice<[Double]>, t: Int, i: Int, h: Int, reverse: Bool) -> [Double] {
        let (wih, whh, bih, bhh) = (w[w.startIndex], w[w.startIndex + 1], w[w.startIndex + 2], w[w.startIndex + 3])
        var hs = [Double](repeating: 0, count: t * h), hp = [Double](repeating: 0, count: h), cp = hp
        for s in (reverse ? Array((0..<t).reversed()) : Array(0..<t)) {
            var a = [Double](repeating: 0, count: 4 * h)
            for r in 0..<(4 * h) {
                a[r] = bih[r] + bhh[r]
                for k in 0..<i { a[r] += wih[r * i + k] * x[s * i + k] }
                for k in 0..<h { a[r] += whh[r * h + k] * hp[k] }
            }
            for j in 0..<h {
                let c = sigmoid(a[h + j]) * cp[j] + sigmoid(a[j]) * Foundation.tanh(a[2 * h + j])
                cp[j] = c
                hp[j] = sigmoid(a[3 * h + j]) * Foundation.tanh(c)
                hs[s * h + j] = hp[j]
            }
        }
        return hs
    }

    func testBidirectionalLSTM() throws {
        let (t, i, h) = (4, 3, 5)
        var inputs = [randn([t, i], seed: 41)]
        for d in 0..<2 {
            inputs += [randn([4 * h, i], seed: 42 + 10 * UInt64(d), std: 0.5), randn([4 * h, h], seed: 43 + 10 * UInt64(d), std: 0.5),
                       randn([4 * h], seed: 44 + 10 * UInt64(d), std: 0.5), randn([4 * h], seed: 45 + 10 * UInt64(d), std: 0.5)]
        }
        func reference(_ x: [[Double]]) -> [Double] {
            let f = Self.direction(x[0], x[1...4], t: t, i: i, h: h, reverse: false)
            let r = Self.direction(x[0], x[5...8], t: t, i: i, h: h, reverse: true)
            var y: [Double] = []
            for s in 0..<t {
                y += f[(s * h)..<((s + 1) * h)]
                y += r[(s * h)..<((s + 1) * h)]
            }
            return y
        }
        let result = try gradcheck("bidirectional LSTM", inputs: inputs, reference: reference,
                                   referenceBackward: { x, dy in
                                       var grads: [[Double]] = [[Double](repeating: 0, count: t * i)]
                                       for d in 0..<2 {
                                           let o = 1 + 4 * d
                                           let w = LSTM64.Weights(wIH: x[o], wHH: x[o + 1], b: zip(x[o + 2], x[o + 3]).map(+))
                                           let run = LSTM64.forward(x[0], t: t, i: i, h: h, w: w, reverse: d == 1)
                                           let dyd = (0..<(t * h)).map { dy[($0 / h) * 2 * h + d * h + $0 % h] }
                                           let g = LSTM64.backward(x[0], t: t, i: i, h: h, w: w, run: run, dy: dyd, reverse: d == 1)
                                           grads[0] = zip(grads[0], g.dx).map(+)
                                           grads += [g.dwIH, g.dwHH, g.db, g.db]
                                       }
                                       return grads
                                   },
                                   op: { tape, v in
                                       try tape.bidirectionalLSTM(v[0], forward: LSTMWeights(wIH: v[1], wHH: v[2], bIH: v[3], bHH: v[4]),
                                                                  reverse: LSTMWeights(wIH: v[5], wHH: v[6], bIH: v[7], bHH: v[8]))
                                   })
        XCTAssertLessThan(result.grad, 4e-6)
    }
}
