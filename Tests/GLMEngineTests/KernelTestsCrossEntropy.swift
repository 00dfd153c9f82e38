// Fused log-softmax + cross-entropy: float64 reference (gradchecked), every level, odd V, ignored targets,
// the in-place backward (dlogits aliasing logits) equal to out-of-place, thread independence.
import CGLMKernels
import XCTest

enum CrossEntropy64 {
    static func forward(_ logits: [Double], _ targets: [Int32], N: Int, V: Int) -> (loss: [Double], lse: [Double]) {
        var loss = [Double](repeating: 0, count: N), lse = loss
        for n in 0..<N {
            let row = logits[(n * V)..<((n + 1) * V)], mx = row.max()!
            lse[n] = mx + log(row.reduce(0) { $0 + exp($1 - mx) })
            let t = Int(targets[n])
            loss[n] = (0..<V).contains(t) ? lse[n] - logits[n * V + t] : 0
        }
        return (loss, lse)
    }

    static func backward(_ logits: [Double], _ targets: [Int32], _ dloss: [Double], N: Int, V: Int) -> [Double] {
        let lse = forward(logits, targets, N: N, V: V).lse
        var d = [Double](repeating: 0, count: N * V)
        for n in 0..<N where (0..<V).contains(Int(targets[n])) {
            for v in 0..<V { d[n * V + v] = (exp(logits[n * V + v] - lse[n]) - (v == Int(targets[n]) ? 1 : 0)) * dloss[n] }
        }
        return d
    }
}

final class KernelTestsCrossEntropy: XCTestCase {
    /// The vocabulary-parallel backward: a rank's columns with the GLOBAL lse; rows whose target lies in
    /// another rank's columns get (softmax)·dloss, rows with a local target (softmax − onehot)·dloss —
    /// together, column block by column block, the one-process backward (float64 reference).
    func testColumnsBackwardIsTheFullBackwardOfEachColumnBlock() {
        var rng = KernelRNG(seed: 52)
        forEachCPULevel { level in
            let (N, V, M) = (5, 34, 2)
            let logits = rng.floats(N * V, -6, 6), dloss = rng.floats(N, 0.1, 2)
            let targets: [Int32] = [0, 16, 17, 33, 5]
            let full = CrossEntropy64.backward(logits.asDouble, targets, dloss.asDouble, N: N, V: V)
            let lse = CrossEntropy64.forward(logits.asDouble, targets, N: N, V: V).lse.map(Float.init)
            let local = V / M
            func columns<T>(_ a: [T], _ r: Int) -> [T] {
                var out: [T] = []
                for n in 0..<N { out += a[(n * V + r * local)..<(n * V + (r + 1) * local)] }
                return out
            }
            for r in 0..<M {
                let block = columns(logits, r), first = Int32(r * local), end = Int32((r + 1) * local)
                let t: [Int32] = targets.map { (x: Int32) -> Int32 in x >= first && x < end ? x - first : -1 }
                var d = [Float](repeating: 7, count: N * local)
                glmk_cross_entropy_backward_columns(&d, block, lse, t, dloss, N, local)
                let want = columns(full, r)
                assertClose(d, want, atol: 1e-7, rtol: 1e-5, "L\(level) rank \(r)")
            }
        }
    }

    func testReferenceBackwardPassesGradcheck() {
        var rng = KernelRNG(seed: 50)
        let (N, V) = (4, 9)
        let x = rng.floats(N * V, -4, 4).asDouble, targets: [Int32] = [3, 0, -100, 8], w = rng.floats(N).asDouble
        let g = CrossEntropy64.backward(x, targets, w, N: N, V: V)
        let err = gradcheck(x, analytic: g) { dot(CrossEntropy64.forward($0, targets, N: N, V: V).loss, w) }
        XCTAssertLessThan(err, 1e-6)
    }

    func testForwardAndBackwardMatchFloat64InAndOutOfPlace() {
        var rng = KernelRNG(seed: 51)
        var worst = ErrorReport()
        forEachCPULevel { level in
            for (N, V) in [(1, 1), (3, 7), (2, 17), (5, 33), (4, 129), (3, 1000), (2, 5003)] {
                let logits = rng.floats(N * V, -15, 15)
                var targets = (0..<N).map { _ in Int32(rng.int(V)) }
                if N > 2 { targets[1] = -100; targets[2] = Int32(V) } // ignored rows: loss 0, zero gradient
                var loss = [Float](repeating: 9, count: N), lse = loss
                glmk_cross_entropy_forward(&loss, &lse, logits, targets, N, V)
                let ref = CrossEntropy64.forward(logits.asDouble, targets, N: N, V: V)
                let tag = "L\(level) N\(N) V\(V)"
                let r = assertClose(loss, ref.loss, atol: 2e-6, rtol: 1e-6, "loss \(tag)")
                if r.maxAbs > worst.maxAbs { worst = r }
                assertClose(lse, ref.lse, atol: 2e-6, rtol: 1e-6, "lse \(tag)")

                let dloss = rng.floats(N, 0.1, 2)
                var d = [Float](repeating: 3, count: N * V + 1)
                glmk_cross_entropy_backward(&d, logits, lse, targets, dloss, N, V)
                XCTAssertEqual(d[N * V], 3, "wrote past the end")
                d.removeLast()
                let g = CrossEntropy64.backward(logits.asDouble, targets, dloss.asDouble, N: N, V: V)
                assertClose(d, g, atol: 1e-7, rtol: 1e-5, "dlogits \(tag)")

                var inPlace = logits
                inPlace.withUnsafeMutableBufferPointer {
                    glmk_cross_entropy_backward($0.baseAddress, $0.baseAddress, lse, targets, dloss, N, V)
                }
                XCTAssertEqual(bits(inPlace), bits(d), "in place \(tag)")
            }
        }
        print("cross-entropy loss worst vs float64: \(worst)")
    }

    func testNaiveTwinsAndNullLSEAndThreads() {
        var rng = KernelRNG(seed: 52)
        let (N, V) = (6, 301)
        let logits = rng.floats(N * V, -8, 8), targets = (0..<N).map { _ in Int32(rng.int(V)) }, dl = rng.floats(N)
        var lossR = [Float](repeating: 0, count: N), lseR = lossR, dR = logits
        glmk_cross_entropy_forward_ref(&lossR, &lseR, logits, targets, N, V)
        glmk_cross_entropy_backward_ref(&dR, logits, lseR, targets, dl, N, V)
        let ref = CrossEntropy64.forward(logits.asDouble, targets, N: N, V: V)
        assertClose(lossR, ref.loss, atol: 1e-6, rtol: 1e-6, "naive twin loss")
        forEachCPULevel { level in
            func run() -> [Float] {
                var loss = [Float](repeating: 0, count: N), lse = loss, d = logits
                glmk_cross_entropy_forward(&loss, &lse, logits, targets, N, V)
                var lossNoLSE = loss
                glmk_cross_entropy_forward(&lossNoLSE, nil, logits, targets, N, V)
                XCTAssertEqual(lossNoLSE, loss, "lse = NULL")
                glmk_cross_entropy_backward(&d, logits, lse, targets, dl, N, V)
                return loss + lse + d
            }
            let one = withKernelThreads(1, run)
            XCTAssertEqual(bits(one), bits(withKernelThreads(2, run)), "L\(level)")
            assertClose(Array(one[(2 * N)...]), dR, atol: 1e-7, rtol: 1e-5, "fast vs naive dlogits L\(level)")
        }
    }
}
