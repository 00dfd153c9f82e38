// LayerNorm: forward/backward against a float64 reference (itself gradchecked by central differences),
// at every CPU level, odd shapes, the naive C twin, and thread-count independence of dw/db.
import CGLMKernels
import XCTest

/// float64 LayerNorm over rows of length C.
enum LayerNorm64 {
    static func forward(_ x: [Double], _ w: [Double], _ b: [Double], N: Int, C: Int, eps: Double)
        -> (y: [Double], mean: [Double], rstd: [Double]) {
        var y = [Double](repeating: 0, count: N * C), mean = [Double](repeating: 0, count: N)
        var rstd = mean
        for n in 0..<N {
            let row = x[(n * C)..<((n + 1) * C)]
            let mu = row.reduce(0, +) / Double(C)
            let v = row.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(C)
            let rs = 1 / (v + eps).squareRoot()
            for c in 0..<C { y[n * C + c] = (x[n * C + c] - mu) * rs * w[c] + b[c] }
            mean[n] = mu
            rstd[n] = rs
        }
        return (y, mean, rstd)
    }

    /// dx, dw, db for upstream dy (dw, db not accumulated here: fresh gradients).
    static func backward(_ dy: [Double], _ x: [Double], _ w: [Double], N: Int, C: Int, eps: Double)
        -> (dx: [Double], dw: [Double], db: [Double]) {
        let f = forward(x, w, [Double](repeating: 0, count: C), N: N, C: C, eps: eps)
        var dx = [Double](repeating: 0, count: N * C), dw = [Double](repeating: 0, count: C), db = dw
        for n in 0..<N {
            var a = 0.0, bsum = 0.0
            for c in 0..<C {
                let xh = (x[n * C + c] - f.mean[n]) * f.rstd[n], g = dy[n * C + c] * w[c]
                a += g
                bsum += g * xh
                dw[c] += dy[n * C + c] * xh
                db[c] += dy[n * C + c]
            }
            for c in 0..<C {
                let xh = (x[n * C + c] - f.mean[n]) * f.rstd[n]
                dx[n * C + c] = f.rstd[n] * (dy[n * C + c] * w[c] - a / Double(C) - xh * bsum / Double(C))
            }
        }
        return (dx, dw, db)
    }
}

final class KernelTestsLayerNorm: XCTestCase {
    static let shapes = [(1, 1), (1, 7), (3, 17), (17, 33), (5, 129), (4, 1000), (33, 64)]
    let eps: Float = 1e-5

    func testReferenceBackwardPassesGradcheck() {
        var rng = KernelRNG(seed: 10)
        for (N, C) in [(3, 7), (2, 17)] {
            let x = rng.floats(N * C, -2, 2).asDouble, w = rng.floats(C, 0.5, 1.5).asDouble
            let b = rng.floats(C).asDouble, r = rng.floats(N * C).asDouble, e = 1e-5
            let g = LayerNorm64.backward(r, x, w, N: N, C: C, eps: e)
            let ex = gradcheck(x, analytic: g.dx) { dot(LayerNorm64.forward($0, w, b, N: N, C: C, eps: e).y, r) }
            let ew = gradcheck(w, analytic: g.dw) { dot(LayerNorm64.forward(x, $0, b, N: N, C: C, eps: e).y, r) }
            let eb = gradcheck(b, analytic: g.db) { dot(LayerNorm64.forward(x, w, $0, N: N, C: C, eps: e).y, r) }
            XCTAssertLessThan(max(ex, ew, eb), 1e-6, "gradcheck \(N)x\(C): dx \(ex) dw \(ew) db \(eb)")
        }
    }

    func testForwardAndBackwardMatchFloat64() {
        var rng = KernelRNG(seed: 11)
        var worst = ErrorReport()
        forEachCPULevel { level in
            for (N, C) in Self.shapes {
                let x = rng.floats(N * C, -3, 3), w = rng.floats(C, 0.5, 1.5), b = rng.floats(C)
                var y = [Float](repeating: 0, count: N * C + 1), mean = [Float](repeating: 0, count: N)
                var rstd = mean
                y[N * C] = 3
                glmk_layernorm_forward(&y, &mean, &rstd, x, w, b, N, C, eps)
                XCTAssertEqual(y[N * C], 3, "wrote past the end")
                let ref = LayerNorm64.forward(x.asDouble, w.asDouble, b.asDouble, N: N, C: C, eps: Double(eps))
                let tag = "L\(level) \(N)x\(C)"
                let r = assertClose(Array(y[0..<(N * C)]), ref.y, atol: 2e-6, rtol: 2e-6, "forward y \(tag)")
                if r.maxAbs > worst.maxAbs { worst = r }
                assertClose(mean, ref.mean, atol: 1e-6, rtol: 1e-6, "mean \(tag)")
                assertClose(rstd, ref.rstd, atol: 1e-6, rtol: 2e-6, "rstd \(tag)")

                let dy = rng.floats(N * C), dw0 = rng.floats(C), db0 = rng.floats(C)
                var dx = [Float](repeating: 0, count: N * C), dw = dw0, db = db0
                glmk_layernorm_backward(&dx, &dw, &db, dy, x, w, mean, rstd, N, C)
                let g = LayerNorm64.backward(dy.asDouble, x.asDouble, w.asDouble, N: N, C: C, eps: Double(eps))
                // dx is a difference of O(1) terms scaled by rstd (up to ~1/σ): absolute tolerance ~1e-5.
                assertClose(dx, g.dx, atol: 1e-5, rtol: 1e-5, "dx \(tag)")
                assertClose(dw, zip(dw0, g.dw).map { Double($0) + $1 }, atol: 1e-5, rtol: 1e-5, "dw (+=) \(tag)")
                assertClose(db, zip(db0, g.db).map { Double($0) + $1 }, atol: 1e-5, rtol: 1e-5, "db (+=) \(tag)")
            }
        }
        print("LayerNorm forward worst vs float64: \(worst)")
    }

    func testNaiveTwinMatchesFloat64() {
        var rng = KernelRNG(seed: 12)
        let (N, C) = (5, 33)
        let x = rng.floats(N * C, -3, 3), w = rng.floats(C, 0.5, 1.5), b = rng.floats(C), dy = rng.floats(N * C)
        var y = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
        glmk_layernorm_forward_ref(&y, &mean, &rstd, x, w, b, N, C, eps)
        let ref = LayerNorm64.forward(x.asDouble, w.asDouble, b.asDouble, N: N, C: C, eps: Double(eps))
        assertClose(y, ref.y, atol: 1e-6, rtol: 1e-6, "ref twin forward")
        var dx = y, dw = [Float](repeating: 0, count: C), db = dw
        glmk_layernorm_backward_ref(&dx, &dw, &db, dy, x, w, mean, rstd, N, C)
        let g = LayerNorm64.backward(dy.asDouble, x.asDouble, w.asDouble, N: N, C: C, eps: Double(eps))
        assertClose(dx, g.dx, atol: 1e-5, rtol: 1e-5, "ref twin dx")
        assertClose(dw, g.dw, atol: 1e-5, rtol: 1e-5, "ref twin dw")
    }

    func testBackwardIdenticalForOneAndTwoThreads() {
        var rng = KernelRNG(seed: 13)
        let (N, C) = (257, 100)
        let x = rng.floats(N * C, -2, 2), w = rng.floats(C), b = rng.floats(C), dy = rng.floats(N * C)
        var y = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
        glmk_layernorm_forward(&y, &mean, &rstd, x, w, b, N, C, eps)
        forEachCPULevel { level in
            func run() -> [Float] {
                var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0.25, count: C), db = dw
                var yy = y, mm = mean, rr = rstd
                glmk_layernorm_forward(&yy, &mm, &rr, x, w, b, N, C, eps)
                glmk_layernorm_backward(&dx, &dw, &db, dy, x, w, mean, rstd, N, C)
                return yy + mm + rr + dx + dw + db
            }
            XCTAssertEqual(bits(withKernelThreads(1, run)), bits(withKernelThreads(2, run)), "L\(level)")
        }
    }

    /// Without memory for the dw/db partials, the allocation-free path must give the same bits.
    func testBackwardWithoutScratchMemoryGivesSameBits() {
        var rng = KernelRNG(seed: 14)
        let (N, C) = (45, 300)
        let x = rng.floats(N * C, -2, 2), w = rng.floats(C), b = rng.floats(C), dy = rng.floats(N * C)
        var y = [Float](repeating: 0, count: N * C), mean = [Float](repeating: 0, count: N), rstd = mean
        glmk_layernorm_forward(&y, &mean, &rstd, x, w, b, N, C, eps)
        forEachCPULevel { level in
            func run() -> [Float] {
                var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0.5, count: C), db = dw
                glmk_layernorm_backward(&dx, &dw, &db, dy, x, w, mean, rstd, N, C)
                return dx + dw + db
            }
            let normal = run()
            glmk_test_fail_scratch(1)
            defer { glmk_test_fail_scratch(0) }
            XCTAssertEqual(bits(run()), bits(normal), "L\(level)")
            XCTAssertEqual(glmk_sum_squares(x, x.count).bitPattern, { () -> UInt64 in
                glmk_test_fail_scratch(0)
                return glmk_sum_squares(x, x.count).bitPattern
            }(), "sum_squares L\(level)")
        }
    }

    func testConstantRowGivesBiasAndNoNaN() {
        let C = 19
        let x = [Float](repeating: 3.25, count: C), w = [Float](repeating: 2, count: C)
        let b = (0..<C).map { Float($0) }
        forEachCPULevel { level in
            var y = [Float](repeating: 0, count: C), mean: [Float] = [0], rstd: [Float] = [0]
            glmk_layernorm_forward(&y, &mean, &rstd, x, w, b, 1, C, eps)
            XCTAssertEqual(y, b, "L\(level)")
            XCTAssertEqual(mean, [3.25])
            XCTAssertEqual(rstd[0], 1 / eps.squareRoot(), accuracy: 1e-3 * rstd[0])
        }
    }
}
