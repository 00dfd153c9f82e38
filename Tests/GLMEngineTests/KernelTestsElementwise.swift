// add, add_inplace, scale_inplace, bias add/backward, sum_squares: against float64, at every level, odd sizes,
// aliasing, no write past the end, and thread-count independence of the reductions.
import CGLMKernels
import XCTest

final class KernelTestsElementwise: XCTestCase {
    static let sizes = [1, 3, 7, 16, 17, 33, 129, 1000, 4099]

    func testAddFamilyMatchesFloat64() {
        var rng = KernelRNG(seed: 1)
        forEachCPULevel { level in
            for n in Self.sizes {
                let a = rng.floats(n), b = rng.floats(n)
                var y = [Float](repeating: 0, count: n + 1)
                y[n] = 7
                glmk_add(&y, a, b, n)
                XCTAssertEqual(y[n], 7, "add wrote past the end")
                // a + b in float is the correctly rounded float64 sum: exact equality.
                XCTAssertEqual(Array(y[0..<n]), zip(a, b).map { Float(Double($0) + Double($1)) }, "add L\(level) n=\(n)")

                var acc = a + [7]
                glmk_add_inplace(&acc, b, n)
                XCTAssertEqual(acc, Array(y[0..<n]) + [7], "add_inplace L\(level) n=\(n)")

                var s = a + [7]
                glmk_scale_inplace(&s, 0.37, n)
                XCTAssertEqual(s, a.map { Float(Double($0) * Double(Float(0.37))) } + [7], "scale L\(level) n=\(n)")

                // y aliasing a.
                var alias = a
                alias.withUnsafeMutableBufferPointer { p in glmk_add(p.baseAddress, p.baseAddress, b, n) }
                XCTAssertEqual(alias, Array(y[0..<n]), "aliased add")
            }
        }
    }

    func testBiasAddAndBackward() {
        var rng = KernelRNG(seed: 2)
        forEachCPULevel { level in
            for (rows, cols) in [(1, 1), (3, 7), (17, 33), (5, 1000), (129, 17)] {
                let x = rng.floats(rows * cols), bias = rng.floats(cols)
                var y = x + [9]
                glmk_bias_add(&y, bias, rows, cols)
                XCTAssertEqual(y[rows * cols], 9)
                var expected = [Float](repeating: 0, count: rows * cols)
                for r in 0..<rows { for c in 0..<cols { expected[r * cols + c] = x[r * cols + c] + bias[c] } }
                XCTAssertEqual(Array(y[0..<(rows * cols)]), expected, "bias_add L\(level) \(rows)x\(cols)")

                let dy = rng.floats(rows * cols), db0 = rng.floats(cols)
                var db = db0
                glmk_bias_backward(&db, dy, rows, cols)
                var ref = db0.asDouble
                for r in 0..<rows { for c in 0..<cols { ref[c] += Double(dy[r * cols + c]) } }
                assertClose(db, ref, atol: 1e-6, rtol: 1e-5, "bias_backward L\(level) \(rows)x\(cols)")
            }
        }
    }

    func testSumSquaresIsFloat64Accurate() {
        var rng = KernelRNG(seed: 3)
        forEachCPULevel { level in
            for n in Self.sizes + [100_003] {
                let x = rng.floats(n, -3, 3)
                let ref = x.reduce(0.0) { $0 + Double($1) * Double($1) }
                let got = glmk_sum_squares(x, n)
                XCTAssertEqual(got, ref, accuracy: 1e-12 * ref, "sum_squares L\(level) n=\(n)")
            }
        }
        XCTAssertEqual(glmk_sum_squares([Float](), 0), 0)
    }

    func testReductionsIdenticalForOneAndTwoThreads() {
        var rng = KernelRNG(seed: 4)
        let x = rng.floats(300_007), rows = 1000, cols = 300
        forEachCPULevel { level in
            func run() -> (Double, [Float]) {
                var db = [Float](repeating: 0.5, count: cols)
                glmk_bias_backward(&db, x, rows, cols)
                return (glmk_sum_squares(x, x.count), db)
            }
            let one = withKernelThreads(1, run), two = withKernelThreads(2, run)
            XCTAssertEqual(one.0.bitPattern, two.0.bitPattern, "sum_squares L\(level)")
            XCTAssertEqual(bits(one.1), bits(two.1), "bias_backward L\(level)")
        }
    }

    /// n == 0 (or rows/cols == 0) is a no-op for every kernel: nothing written, nothing read, no crash.
    func testEmptyInputsAreNoOps() {
        var y: [Float] = [5], h: [UInt16] = [5]
        let one: [Float] = [1], ids: [Int32] = [0]
        glmk_add(&y, one, one, 0)
        glmk_add_inplace(&y, one, 0)
        glmk_scale_inplace(&y, 2, 0)
        glmk_bias_add(&y, one, 0, 1)
        glmk_bias_add(&y, one, 1, 0)
        glmk_bias_backward(&y, one, 0, 1)
        glmk_f32_to_bf16(&h, one, 0)
        glmk_bf16_to_f32(&y, h, 0)
        glmk_gelu_forward(&y, one, 0)
        glmk_gelu_backward(&y, one, one, 0)
        glmk_dropout_forward(&y, one, 0, 0.5, 1, 0)
        glmk_dropout_backward(&y, one, 0, 0.5, 1, 0)
        var mean: [Float] = [5], rstd: [Float] = [5]
        glmk_layernorm_forward(&y, &mean, &rstd, one, one, one, 0, 1, 1e-5)
        glmk_layernorm_forward(&y, &mean, &rstd, one, one, one, 1, 0, 1e-5)
        var dw: [Float] = [5], db: [Float] = [5]
        glmk_layernorm_backward(&y, &dw, &db, one, one, one, one, one, 0, 1)
        glmk_masked_softmax_forward(&y, one, one, 0, 1, 1, 1, 1, 1)
        glmk_masked_softmax_forward(&y, one, one, 1, 1, 1, 0, 1, 1)
        glmk_masked_softmax_backward(&y, one, one, one, 1, 1, 0, 1, 1, 1)
        XCTAssertEqual(glmk_embedding_forward(&y, ids, one, 0, 1, 1, 0), 0)
        glmk_embedding_backward(&y, one, ids, 0, 1, 1)
        var loss: [Float] = [5], lse: [Float] = [5]
        glmk_cross_entropy_forward(&loss, &lse, one, ids, 0, 1)
        glmk_cross_entropy_backward(&y, one, lse, ids, one, 0, 1)
        XCTAssertEqual(y, [5])
        XCTAssertEqual(h, [5])
        XCTAssertEqual(mean + rstd + dw + db + loss + lse, [5, 5, 5, 5, 5, 5])
    }
}

/// The vector exp that softmax, cross-entropy and GELU use: ulp error against float64 over its whole range.
final class KernelTestsExp: XCTestCase {
    /// Distance in units in the last place of `expected` (rounded to float).
    private func ulps(_ got: Float, _ expected: Double) -> Double {
        let e = Float(expected)
        if got == e { return 0 }
        let ulp = Double(e.ulp == 0 ? Float.leastNonzeroMagnitude : e.ulp)
        return abs(Double(got) - expected) / ulp
    }

    func testExpIsWithinTwoUlpEverywhere() {
        // A dense sweep of [−87.3, 88.7] (normal results) plus the tails, odd length for the masked tail.
        var x: [Float] = stride(from: -87.3, through: 88.7, by: 0.0007).map { Float($0) }
        x += [0, -0, 1, -1, 1e-8, -1e-8, 88.72, 88.73, 100, -87.34, -104, -110, -200, .infinity, -.infinity]
        forEachCPULevel { level in
            var y = [Float](repeating: 0, count: x.count)
            glmk_exp(&y, x, x.count)
            var worst = 0.0
            for i in 0..<(x.count - 15) { worst = max(worst, ulps(y[i], exp(Double(x[i])))) }
            XCTAssertLessThanOrEqual(worst, 2, "L\(level) worst ulp")
            let tail = Array(y.suffix(15))
            XCTAssertEqual(Array(tail[0..<6]), [1, 1, Float(M_E), Float(1 / M_E), 1, 1], "L\(level)")
            XCTAssertLessThanOrEqual(ulps(tail[6], exp(Double(Float(88.72)))), 2, "near the top L\(level)")
            XCTAssertEqual(Array(tail[7...8]), [.infinity, .infinity], "overflow L\(level)")
            XCTAssertEqual(Array(tail[9...12]), [0, 0, 0, 0], "would-be denormals flush to 0, L\(level)")
            XCTAssertEqual(tail[13], .infinity)
            XCTAssertEqual(tail[14], 0, "exp(−Inf) L\(level)")
            if level == 0 { print("exp: scalar (libm expf) worst \(worst) ulp") } else { print("exp L\(level): worst \(worst) ulp") }
        }
        var nan: [Float] = [.nan]
        glmk_exp(&nan, [Float.nan], 1)
        XCTAssertTrue(nan[0].isNaN)
    }
}
