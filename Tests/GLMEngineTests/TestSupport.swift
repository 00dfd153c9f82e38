import Foundation
import XCTest
@testable import GLMEngine

/// Shared helpers of the engine tests: random data, float64 comparisons and the gradcheck used by every op.

func randn(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor { Tensor.randomNormal(shape, std: std, seed: seed) }

func doubles(_ t: Tensor) -> [Double] { t.toFloats().map(Double.init) }

/// max |a − r| / max(max |r|, floor): a scale-aware error that does not explode on tiny entries.
func normalizedError(_ a: [Double], _ r: [Double], floor: Double = 1e-3) -> Double {
    precondition(a.count == r.count, "compare \(a.count) vs \(r.count)")
    var err = 0.0, scale = floor
    for i in a.indices {
        err = max(err, abs(a[i] - r[i]))
        scale = max(scale, abs(r[i]))
    }
    return err / scale
}

func assertClose(_ a: [Double], _ r: [Double], tol: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    let e = normalizedError(a, r)
    XCTAssert(e <= tol, "\(what): normalized error \(e) > \(tol)", file: file, line: line)
}

/// Central finite differences of L(x) = Σ dy·f(x) in float64 for the listed elements of input `which`.
func finiteDifference(_ f: ([[Double]]) -> [Double], inputs: [[Double]], dy: [Double], which: Int,
                      elements: [Int], h: Double = 1e-5) -> [Double] {
    elements.map { j in
        var xp = inputs, xm = inputs
        let step = h * max(1, abs(inputs[which][j]))
        xp[which][j] += step
        xm[which][j] -= step
        let lp = zip(f(xp), dy).reduce(0) { $0 + $1.0 * $1.1 }
        let lm = zip(f(xm), dy).reduce(0) { $0 + $1.0 * $1.1 }
        return (lp - lm) / (2 * step)
    }
}

/// Up to `limit` element indices of a tensor of `count` elements, spread deterministically (first, last,
/// and a seeded sample in between) so large inputs stay cheap in debug builds.
func sampleIndices(_ count: Int, limit: Int = 48, seed: UInt64 = 7) -> [Int] {
    if count <= limit { return Array(0..<count) }
    var g = SeededGenerator(seed: seed)
    var s = Set([0, count - 1])
    while s.count < limit { s.insert(Int(g.next() % UInt64(count))) }
    return s.sorted()
}

/// The gradcheck every op test uses.
///
/// 1. Runs the float32 op on a recording tape and compares its output with the float64 reference forward
///    (`forwardTol`, normalized error).
/// 2. Back-propagates a seeded random output gradient dy and compares EVERY element of each analytic
///    float32 input gradient with the float64 reference backward `referenceBackward(x, dy)` (`gradTol`).
/// 3. Checks the float64 reference backward itself against central finite differences of Σ dy·forward(x),
///    computed in float64, on up to `sampleLimit` elements per input, at 1e-6 normalized error.
/// Inputs listed in `differentiable` get `requiresGrad`; the others are constants.
@discardableResult
func gradcheck(_ name: String, inputs: [Tensor], differentiable: Set<Int>? = nil,
               forwardTol: Double = 1e-6, gradTol: Double = 4e-6, sampleLimit: Int = 48,
               reference: ([[Double]]) -> [Double],
               referenceBackward: ([[Double]], [Double]) -> [[Double]],
               op: (Tape, [Variable]) throws -> Variable,
               file: StaticString = #filePath, line: UInt = #line) throws -> (forward: Double, grad: Double) {
    let diff = differentiable ?? Set(inputs.indices)
    let x64 = inputs.map(doubles)
    let tape = Tape()
    let vars = inputs.enumerated().map { Variable($0.element.copy(), requiresGrad: diff.contains($0.offset)) }
    let out = try op(tape, vars)
    let ref = reference(x64)
    let fwdErr = normalizedError(doubles(out.value), ref)
    XCTAssert(fwdErr <= forwardTol, "\(name) forward: normalized error \(fwdErr) > \(forwardTol)", file: file, line: line)
    let dy = randn(out.shape, seed: 99)
    let dy64 = doubles(dy)
    try tape.backward(from: out, gradient: dy)
    let refGrads = referenceBackward(x64, dy64)
    var worst = 0.0
    for i in diff.sorted() {
        guard let g = vars[i].grad else {
            XCTFail("\(name): no gradient reached input \(i)", file: file, line: line); continue
        }
        let e = normalizedError(doubles(g), refGrads[i])
        worst = max(worst, e)
        XCTAssert(e <= gradTol, "\(name) d/dinput\(i): normalized error \(e) > \(gradTol) vs the float64 reference backward",
                  file: file, line: line)
        let idx = sampleIndices(inputs[i].count, limit: sampleLimit)
        let fd = finiteDifference(reference, inputs: x64, dy: dy64, which: i, elements: idx)
        let fdErr = normalizedError(idx.map { refGrads[i][$0] }, fd, floor: 1e-6)
        XCTAssert(fdErr <= 1e-6, "\(name) input \(i): float64 reference backward vs finite differences \(fdErr) > 1e-6",
                  file: file, line: line)
    }
    print(String(format: "gradcheck %@: forward error %.2e, gradient error %.2e", name, fwdErr, worst))
    return (fwdErr, worst)
}

// MARK: float64 reference ops (naive loops; shapes row-major as in the engine)

enum Ref {
    /// C (m, n) = op(A)·op(B) (+ bias per column)
    static func matmul(_ a: [Double], _ b: [Double], m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
                       bias: [Double]? = nil) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n {
            var s = bias?[j] ?? 0
            for p in 0..<k {
                let av = transA ? a[p * m + i] : a[i * k + p]
                let bv = transB ? b[j * k + p] : b[p * n + j]
                s += av * bv
            }
            c[i * n + j] = s
        } }
        return c
    }

    /// d op(A), d op(B) of C = op(A)·op(B), returned in the STORED layouts of A and B.
    static func matmulBackward(_ a: [Double], _ b: [Double], _ dc: [Double], m: Int, n: Int, k: Int,
                               transA: Bool = false, transB: Bool = false) -> ([Double], [Double]) {
        let da = transA ? matmul(b, dc, m: k, n: m, k: n, transA: transB, transB: true)
                        : matmul(dc, b, m: m, n: k, k: n, transB: !transB)
        let db = transB ? matmul(dc, a, m: n, n: k, k: m, transA: true, transB: transA)
                        : matmul(a, dc, m: k, n: n, k: m, transA: !transA)
        return (da, db)
    }

    /// Σ over rows of a (rows, c) matrix.
    static func columnSums(_ x: [Double], c: Int) -> [Double] {
        var s = [Double](repeating: 0, count: c)
        for (i, v) in x.enumerated() { s[i % c] += v }
        return s
    }

    static func geluDerivative(_ x: Double) -> Double {
        let a = 0.7978845608028654, b = 0.044715
        let t = tanh(a * x * (1 + b * x * x))
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * a * (1 + 3 * b * x * x)
    }

    /// dx, dw, db of LayerNorm.
    static func layerNormBackward(_ x: [Double], _ w: [Double], _ dy: [Double], c: Int, eps: Double) -> ([Double], [Double], [Double]) {
        var dx = x, dw = [Double](repeating: 0, count: c), db = dw
        for r in 0..<(x.count / c) {
            let row = Array(x[(r * c)..<(r * c + c)])
            let mean = row.reduce(0, +) / Double(c)
            let rstd = 1 / ((row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(c)) + eps).squareRoot()
            let xhat = row.map { ($0 - mean) * rstd }
            let g = (0..<c).map { dy[r * c + $0] * w[$0] }
            let mg = g.reduce(0, +) / Double(c)
            let mgx = zip(g, xhat).reduce(0) { $0 + $1.0 * $1.1 } / Double(c)
            for j in 0..<c {
                dx[r * c + j] = rstd * (g[j] - mg - xhat[j] * mgx)
                dw[j] += dy[r * c + j] * xhat[j]
                db[j] += dy[r * c + j]
            }
        }
        return (dx, dw, db)
    }

    /// dS of the GLM masked softmax block given P and dP: scale·mask·P·(dP − Σ dP·P).
    static func maskedSoftmaxBackward(_ p: [Double], _ dp: [Double], mask: [Double], q: Int, k: Int, scale: Double) -> [Double] {
        var ds = p
        for i in 0..<q {
            var dot = 0.0
            for j in 0..<k { dot += dp[i * k + j] * p[i * k + j] }
            for j in 0..<k { ds[i * k + j] = scale * mask[i * k + j] * p[i * k + j] * (dp[i * k + j] - dot) }
        }
        return ds
    }

    /// Gradients of `attention` with respect to the three operand tensors (same operand conventions).
    static func attentionBackward(q qx: [Double], qShape: [Int], qCol: Int, qRow: Int,
                                  k kx: [Double], kShape: [Int], kCol: Int, kRow: Int,
                                  v vx: [Double], vShape: [Int], vCol: Int, vRow: Int,
                                  heads: Int, hidden: Int, ql: Int, kl: Int, mask: [Double], bm: Int,
                                  dout: [Double]) -> (dq: [Double], dk: [Double], dv: [Double]) {
        let b = qShape[0], d = hidden / heads, scale = 1 / Double(d).squareRoot()
        var dq = [Double](repeating: 0, count: qx.count), dk = [Double](repeating: 0, count: kx.count)
        var dv = [Double](repeating: 0, count: vx.count)
        func idx(_ shape: [Int], _ col: Int, _ row0: Int, _ bi: Int, _ r: Int, _ c: Int) -> Int {
            (bi * shape[1] + row0 + r) * shape[2] + col + c
        }
        for bi in 0..<b { for hd in 0..<heads {
            var s = [Double](repeating: 0, count: ql * kl)
            for i in 0..<ql { for j in 0..<kl {
                var acc = 0.0
                for t in 0..<d { acc += qx[idx(qShape, qCol, qRow, bi, i, hd * d + t)] * kx[idx(kShape, kCol, kRow, bi, j, hd * d + t)] }
                s[i * kl + j] = acc
            } }
            let mb = bm == 1 ? 0 : bi
            let mk = Array(mask[(mb * ql * kl)..<((mb + 1) * ql * kl)])
            let p = maskedSoftmax(s, mask: mk, q: ql, k: kl, scale: scale)
            var dp = [Double](repeating: 0, count: ql * kl)
            for i in 0..<ql { for t in 0..<d {
                let g = dout[(bi * ql + i) * hidden + hd * d + t]
                for j in 0..<kl {
                    dp[i * kl + j] += g * vx[idx(vShape, vCol, vRow, bi, j, hd * d + t)]
                    dv[idx(vShape, vCol, vRow, bi, j, hd * d + t)] += p[i * kl + j] * g
                }
            } }
            let ds = maskedSoftmaxBackward(p, dp, mask: mk, q: ql, k: kl, scale: scale)
            for i in 0..<ql { for j in 0..<kl { for t in 0..<d {
                dq[idx(qShape, qCol, qRow, bi, i, hd * d + t)] += ds[i * kl + j] * kx[idx(kShape, kCol, kRow, bi, j, hd * d + t)]
                dk[idx(kShape, kCol, kRow, bi, j, hd * d + t)] += ds[i * kl + j] * qx[idx(qShape, qCol, qRow, bi, i, hd * d + t)]
            } } }
        } }
        return (dq, dk, dv)
    }

    /// d(Σ ce_i·mask_i/Σmask · dy0)/dlogits = dy0·mask_i/Σmask·(softmax − onehot).
    static func crossEntropyBackward(_ logits: [Double], targets: [Int32], mask: [Double], v: Int, dy0: Double) -> [Double] {
        let msum = mask.reduce(0, +)
        var g = logits
        for r in 0..<targets.count {
            let row = logits[(r * v)..<(r * v + v)]
            let mx = row.max()!
            let z = row.reduce(0) { $0 + exp($1 - mx) }
            for j in 0..<v {
                g[r * v + j] = dy0 * mask[r] / msum * (exp(logits[r * v + j] - mx) / z - (j == Int(targets[r]) ? 1 : 0))
            }
        }
        return g
    }

    static func gelu(_ x: Double) -> Double {
        0.5 * x * (1 + tanh(0.7978845608028654 * x * (1 + 0.044715 * x * x)))
    }

    static func layerNorm(_ x: [Double], _ w: [Double], _ b: [Double], c: Int, eps: Double) -> [Double] {
        var y = x
        for r in 0..<(x.count / c) {
            let row = x[(r * c)..<(r * c + c)]
            let mean = row.reduce(0, +) / Double(c)
            let v = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(c)
            let rstd = 1 / (v + eps).squareRoot()
            for j in 0..<c { y[r * c + j] = (x[r * c + j] - mean) * rstd * w[j] + b[j] }
        }
        return y
    }

    /// GLM masked softmax on one (q, k) score block with mask block (q, k).
    static func maskedSoftmax(_ s: [Double], mask: [Double], q: Int, k: Int, scale: Double) -> [Double] {
        var p = s
        for i in 0..<q {
            var row = (0..<k).map { j in s[i * k + j] * scale * mask[i * k + j] + (-65504.0) * (1 - mask[i * k + j]) }
            let mx = row.max()!
            row = row.map { exp($0 - mx) }
            let z = row.reduce(0, +)
            for j in 0..<k { p[i * k + j] = row[j] / z }
        }
        return p
    }

    /// Attention over operand blocks: x[b, rows, width] with (column, firstRow), like AttentionOperand.
    static func attention(q qx: [Double], qShape: [Int], qCol: Int, qRow: Int,
                          k kx: [Double], kShape: [Int], kCol: Int, kRow: Int,
                          v vx: [Double], vShape: [Int], vCol: Int, vRow: Int,
                          heads: Int, hidden: Int, ql: Int, kl: Int, mask: [Double], bm: Int) -> [Double] {
        let b = qShape[0], d = hidden / heads
        var out = [Double](repeating: 0, count: b * ql * hidden)
        func at(_ x: [Double], _ shape: [Int], _ col: Int, _ row0: Int, _ bi: Int, _ r: Int, _ c: Int) -> Double {
            x[(bi * shape[1] + row0 + r) * shape[2] + col + c]
        }
        for bi in 0..<b { for hd in 0..<heads {
            var s = [Double](repeating: 0, count: ql * kl)
            for i in 0..<ql { for j in 0..<kl {
                var acc = 0.0
                for t in 0..<d { acc += at(qx, qShape, qCol, qRow, bi, i, hd * d + t) * at(kx, kShape, kCol, kRow, bi, j, hd * d + t) }
                s[i * kl + j] = acc
            } }
            let mb = bm == 1 ? 0 : bi
            let p = maskedSoftmax(s, mask: Array(mask[(mb * ql * kl)..<((mb + 1) * ql * kl)]), q: ql, k: kl,
                                  scale: 1 / Double(d).squareRoot())
            for i in 0..<ql { for t in 0..<d {
                var acc = 0.0
                for j in 0..<kl { acc += p[i * kl + j] * at(vx, vShape, vCol, vRow, bi, j, hd * d + t) }
                out[(bi * ql + i) * hidden + hd * d + t] = acc
            } }
        } }
        return out
    }

    /// Per-row cross-entropy (logsumexp − logit[target]).
    static func crossEntropyRows(_ logits: [Double], targets: [Int32], v: Int) -> [Double] {
        (0..<targets.count).map { r in
            let row = logits[(r * v)..<(r * v + v)]
            let mx = row.max()!
            let lse = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
            return lse - logits[r * v + Int(targets[r])]
        }
    }
}
