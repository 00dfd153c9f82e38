// tanh-GELU with GLM's constants: forward/backward against float64 (gradchecked), every level, both tails.
import CGLMKernels
import XCTest

/// float64 tanh-GELU. Written as x·σ(2u) (= 0.5·x·(1 + tanh u)): even in float64, 1 + tanh(u) loses all
/// digits in the negative tail (x ≲ −5), which would make the reference worse than the kernel it checks.
enum GELU64 {
    static let k0 = 0.7978845608028654, k1 = 0.044715
    static func u(_ x: Double) -> Double { k0 * x * (1 + k1 * x * x) }
    static func forward(_ x: Double) -> Double { x / (1 + exp(-2 * u(x))) }
    /// The literal formula of glm_kernels.h, to confirm the identity where it has no cancellation.
    static func forwardTanh(_ x: Double) -> Double { 0.5 * x * (1 + tanh(u(x))) }
    static func derivative(_ x: Double) -> Double {
        let e = exp(-2 * u(x)), s = 1 / (1 + e)
        let s1ms = e.isInfinite ? 0 : e * s * s // σ(1 − σ) = ¼(1 − tanh²)
        return s + 2 * x * s1ms * k0 * (1 + 3 * k1 * x * x)
    }
}

final class KernelTestsGELU: XCTestCase {
    /// Inputs over the whole useful range plus both tails (where 1 + tanh cancels) and exact zeros.
    private func inputs(_ n: Int, seed: UInt64) -> [Float] {
        var rng = KernelRNG(seed: seed)
        return (0..<n).map { i in
            switch i % 4 {
            case 0: return Float(rng.uniform(-6, 6))
            case 1: return Float(rng.uniform(-0.01, 0.01))
            case 2: return Float(rng.uniform(-30, 30))
            default: return i % 8 == 3 ? 0 : Float(rng.uniform(-2, 2))
            }
        }
    }

    func testReferenceDerivativePassesGradcheck() {
        var worst = 0.0
        for x in inputs(64, seed: 20).map(Double.init) {
            worst = max(worst, gradcheck([x], analytic: [GELU64.derivative(x)]) { GELU64.forward($0[0]) })
            if x > -3 { XCTAssertEqual(GELU64.forwardTanh(x), GELU64.forward(x), accuracy: 1e-15 * max(1, abs(x))) }
        }
        XCTAssertLessThan(worst, 1e-7)
    }

    func testForwardAndBackwardMatchFloat64() {
        var worstF = ErrorReport(), worstB = ErrorReport()
        forEachCPULevel { level in
            for n in [1, 3, 7, 16, 17, 33, 129, 1000, 4097] {
                let x = inputs(n, seed: UInt64(n)), dy = randomFloats(seed: 99, n, -2, 2)
                var y = [Float](repeating: 0, count: n + 1)
                y[n] = 5
                glmk_gelu_forward(&y, x, n)
                XCTAssertEqual(y[n], 5, "wrote past the end")
                // Relative 2e-6 down to |y| ~ 1e-4, absolute 1e-9 in the far negative tail: there y ≈ x·e^(−2u),
                // and rounding u to float alone costs 2|u|·ε relative (≈ 3e-6 at x = −6, where |y| ≈ 1e-8).
                let f = assertClose(Array(y[0..<n]), x.map { GELU64.forward(Double($0)) }, atol: 1e-9, rtol: 2e-6,
                                    "gelu forward L\(level) n=\(n)")
                if f.worstRatio > worstF.worstRatio { worstF = f }
                var dx = [Float](repeating: 0, count: n)
                glmk_gelu_backward(&dx, dy, x, n)
                let expected = zip(x, dy).map { GELU64.derivative(Double($0)) * Double($1) }
                let b = assertClose(dx, expected, atol: 1e-7, rtol: 4e-6, "gelu backward L\(level) n=\(n)")
                if b.worstRatio > worstB.worstRatio { worstB = b }
                // dx may alias dy.
                var inPlace = dy
                inPlace.withUnsafeMutableBufferPointer { glmk_gelu_backward($0.baseAddress, $0.baseAddress, x, n) }
                XCTAssertEqual(bits(inPlace), bits(dx), "aliased backward L\(level)")
            }
        }
        print("GELU worst vs float64: forward \(worstF); backward \(worstB)")
    }

    func testNaiveTwinsAndSpecialValues() {
        let x: [Float] = [0, -0, 1, -1, 40, -40, 1e-20, .infinity]
        var y = [Float](repeating: 0, count: x.count), yr = y
        glmk_gelu_forward_ref(&yr, x, x.count)
        XCTAssertEqual(yr[2], Float(GELU64.forward(1)), accuracy: 1e-6)
        forEachCPULevel { level in
            glmk_gelu_forward(&y, x, x.count)
            XCTAssertEqual([y[0], y[1], y[4], y[5], y[6]], [0, 0, 40, 0, 1e-20 / 2], "L\(level)")
            XCTAssertEqual(y[2], Float(GELU64.forward(1)), accuracy: 1e-7)
            XCTAssertEqual(y[3], Float(GELU64.forward(-1)), accuracy: 1e-7)
            XCTAssertEqual(y[7], .infinity)
            var dx = [Float](repeating: 0, count: 7)
            glmk_gelu_backward(&dx, [Float](repeating: 1, count: 7), Array(x[0..<7]), 7)
            XCTAssertEqual(dx[0], 0.5)
            XCTAssertEqual(dx[4], 1)
            XCTAssertEqual(dx[5], 0)
            XCTAssertFalse(dx.contains { $0.isNaN })
        }
        let dy = randomFloats(seed: 3, 7)
        var d = dy, dref = dy
        glmk_gelu_backward(&d, dy, Array(x[0..<7]), 7)
        glmk_gelu_backward_ref(&dref, dy, Array(x[0..<7]), 7)
        assertClose(dref, d, atol: 1e-6, rtol: 1e-5, "naive twin backward")
    }
}
