// GLM masked softmax (scale fused, −65504 fill): float64 reference (gradchecked), every level, odd K,
// fully blocked rows, Bm = 1 broadcast, aliasing, thread independence.
import CGLMKernels
import XCTest

enum MaskedSoftmax64 {
    /// S (B·H·Q·K), mask (Bm·Q·K) → P, row by row exactly as the formula in glm_kernels.h.
    static func forward(_ S: [Double], _ mask: [Double], B: Int, H: Int, Q: Int, K: Int, Bm: Int, scale: Double)
        -> [Double] {
        var P = [Double](repeating: 0, count: S.count)
        for row in 0..<(B * H * Q) {
            let b = row / (H * Q), q = row % Q, mo = ((Bm == 1 ? 0 : b) * Q + q) * K
            let v = (0..<K).map { k in scale * S[row * K + k] * mask[mo + k] - 65504 * (1 - mask[mo + k]) }
            let mx = v.max()!
            let e = v.map { exp($0 - mx) }, sum = e.reduce(0, +)
            for k in 0..<K { P[row * K + k] = e[k] / sum }
        }
        return P
    }

    static func backward(_ dP: [Double], _ P: [Double], _ mask: [Double], B: Int, H: Int, Q: Int, K: Int, Bm: Int,
                         scale: Double) -> [Double] {
        var dS = [Double](repeating: 0, count: P.count)
        for row in 0..<(B * H * Q) {
            let b = row / (H * Q), q = row % Q, mo = ((Bm == 1 ? 0 : b) * Q + q) * K
            var dotp = 0.0
            for k in 0..<K { dotp += dP[row * K + k] * P[row * K + k] }
            for k in 0..<K { dS[row * K + k] = scale * mask[mo + k] * P[row * K + k] * (dP[row * K + k] - dotp) }
        }
        return dS
    }
}

final class KernelTestsSoftmax: XCTestCase {
    /// A causal-ish 0/1 mask with some fully blocked rows (GLM's padding rows).
    private func makeMask(Bm: Int, Q: Int, K: Int, rng: inout KernelRNG) -> [Float] {
        (0..<(Bm * Q * K)).map { i in
            let q = (i / K) % Q, k = i % K
            if q % 5 == 4 { return 0 } // fully blocked row
            return (k <= q + K / 2 || rng.int(4) == 0) ? 1 : 0
        }
    }

    func testReferenceBackwardPassesGradcheck() {
        var rng = KernelRNG(seed: 30)
        let (B, H, Q, K, scale) = (2, 1, 5, 7, 0.7)
        let S = rng.floats(B * H * Q * K, -3, 3).asDouble, r = rng.floats(S.count).asDouble
        let mask = makeMask(Bm: B, Q: Q, K: K, rng: &rng).asDouble
        let P = MaskedSoftmax64.forward(S, mask, B: B, H: H, Q: Q, K: K, Bm: B, scale: scale)
        let dS = MaskedSoftmax64.backward(r, P, mask, B: B, H: H, Q: Q, K: K, Bm: B, scale: scale)
        let err = gradcheck(S, analytic: dS) {
            dot(MaskedSoftmax64.forward($0, mask, B: B, H: H, Q: Q, K: K, Bm: B, scale: scale), r)
        }
        XCTAssertLessThan(err, 1e-6)
    }

    func testForwardAndBackwardMatchFloat64() {
        var rng = KernelRNG(seed: 31)
        var worst = ErrorReport()
        let shapes = [(1, 1, 1, 1, 1), (2, 3, 5, 7, 2), (2, 2, 3, 17, 1), (1, 2, 4, 33, 1), (3, 1, 2, 129, 3),
                      (1, 1, 3, 1000, 1)]
        forEachCPULevel { level in
            for (B, H, Q, K, Bm) in shapes {
                let scale: Float = 0.125
                let S = rng.floats(B * H * Q * K, -20, 20), mask = makeMask(Bm: Bm, Q: Q, K: K, rng: &rng)
                var P = [Float](repeating: 0, count: S.count + 1)
                P[S.count] = 2
                glmk_masked_softmax_forward(&P, S, mask, B, H, Q, K, Bm, scale)
                XCTAssertEqual(P[S.count], 2, "wrote past the end")
                P.removeLast()
                let tag = "L\(level) B\(B) H\(H) Q\(Q) K\(K) Bm\(Bm)"
                let ref = MaskedSoftmax64.forward(S.asDouble, mask.asDouble, B: B, H: H, Q: Q, K: K, Bm: Bm,
                                                  scale: Double(scale))
                let r = assertClose(P, ref, atol: 1e-7, rtol: 4e-6, "forward \(tag)")
                if r.worstRatio > worst.worstRatio { worst = r }

                let dP = rng.floats(S.count)
                var dS = [Float](repeating: 0, count: S.count)
                glmk_masked_softmax_backward(&dS, dP, P, mask, B, H, Q, K, Bm, scale)
                let g = MaskedSoftmax64.backward(dP.asDouble, P.asDouble, mask.asDouble, B: B, H: H, Q: Q, K: K,
                                                 Bm: Bm, scale: Double(scale))
                assertClose(dS, g, atol: 1e-7, rtol: 1e-5, "backward \(tag)")

                // P may alias S; dS may alias dP.
                var inPlace = S
                inPlace.withUnsafeMutableBufferPointer {
                    glmk_masked_softmax_forward($0.baseAddress, $0.baseAddress, mask, B, H, Q, K, Bm, scale)
                }
                XCTAssertEqual(bits(inPlace), bits(P), "aliased forward \(tag)")
                var dInPlace = dP
                dInPlace.withUnsafeMutableBufferPointer {
                    glmk_masked_softmax_backward($0.baseAddress, $0.baseAddress, P, mask, B, H, Q, K, Bm, scale)
                }
                XCTAssertEqual(bits(dInPlace), bits(dS), "aliased backward \(tag)")
            }
        }
        print("masked softmax forward worst vs float64: \(worst)")
    }

    func testFullyBlockedRowIsUniformLikeAllFillValues() {
        let K = 37
        var rng = KernelRNG(seed: 32)
        let S = rng.floats(K, -5, 5)
        forEachCPULevel { level in
            var blocked = [Float](repeating: 0, count: K), fill = blocked
            glmk_masked_softmax_forward(&blocked, S, [Float](repeating: 0, count: K), 1, 1, 1, K, 1, 0.5)
            glmk_masked_softmax_forward(&fill, [Float](repeating: -65504, count: K), [Float](repeating: 1, count: K),
                                        1, 1, 1, K, 1, 1)
            XCTAssertEqual(bits(blocked), bits(fill), "L\(level)")
            XCTAssertEqual(blocked, [Float](repeating: 1 / Float(K), count: K), "L\(level) uniform")
            var dS = [Float](repeating: 9, count: K)
            glmk_masked_softmax_backward(&dS, S, blocked, [Float](repeating: 0, count: K), 1, 1, 1, K, 1, 0.5)
            XCTAssertEqual(dS, [Float](repeating: 0, count: K), "blocked positions get no gradient")
        }
    }

    /// A causal mask blocks whole vectors, which skip the exp: still the float64 result, blocked entries 0.
    func testCausalMaskMatchesFloat64() {
        var rng = KernelRNG(seed: 35)
        let (B, H, Q, K) = (1, 2, 70, 70)
        let S = rng.floats(B * H * Q * K, -8, 8)
        let mask: [Float] = (0..<(Q * K)).map { ($0 % K) <= ($0 / K) ? 1 : 0 }
        let ref = MaskedSoftmax64.forward(S.asDouble, mask.asDouble, B: B, H: H, Q: Q, K: K, Bm: 1, scale: 0.5)
        forEachCPULevel { level in
            var P = S
            glmk_masked_softmax_forward(&P, S, mask, B, H, Q, K, 1, 0.5)
            assertClose(P, ref, atol: 1e-7, rtol: 4e-6, "causal L\(level)")
            let blocked = P.indices.filter { mask[$0 % (Q * K)] == 0 }
            XCTAssertTrue(blocked.allSatisfy { P[$0] == 0 }, "blocked entries are exactly 0, L\(level)")
        }
    }

    func testBroadcastMaskEqualsTiledMask() {
        var rng = KernelRNG(seed: 33)
        let (B, H, Q, K) = (3, 2, 4, 19)
        let S = rng.floats(B * H * Q * K, -4, 4), dP = rng.floats(S.count)
        let mask1 = makeMask(Bm: 1, Q: Q, K: K, rng: &rng)
        let tiled = Array([[Float]](repeating: mask1, count: B).joined())
        forEachCPULevel { level in
            var p1 = S, pB = S, d1 = S, dB = S
            glmk_masked_softmax_forward(&p1, S, mask1, B, H, Q, K, 1, 0.3)
            glmk_masked_softmax_forward(&pB, S, tiled, B, H, Q, K, B, 0.3)
            XCTAssertEqual(bits(p1), bits(pB), "forward L\(level)")
            glmk_masked_softmax_backward(&d1, dP, p1, mask1, B, H, Q, K, 1, 0.3)
            glmk_masked_softmax_backward(&dB, dP, pB, tiled, B, H, Q, K, B, 0.3)
            XCTAssertEqual(bits(d1), bits(dB), "backward L\(level)")
        }
    }

    func testNaiveTwinsAndThreadIndependence() {
        var rng = KernelRNG(seed: 34)
        let (B, H, Q, K) = (2, 3, 7, 65)
        let S = rng.floats(B * H * Q * K, -4, 4), dP = rng.floats(S.count), mask = makeMask(Bm: B, Q: Q, K: K, rng: &rng)
        var pr = S, dr = S
        glmk_masked_softmax_forward_ref(&pr, S, mask, B, H, Q, K, B, 0.25)
        glmk_masked_softmax_backward_ref(&dr, dP, pr, mask, B, H, Q, K, B, 0.25)
        let ref = MaskedSoftmax64.forward(S.asDouble, mask.asDouble, B: B, H: H, Q: Q, K: K, Bm: B, scale: 0.25)
        assertClose(pr, ref, atol: 1e-7, rtol: 1e-6, "naive twin forward")
        forEachCPULevel { level in
            func run() -> [Float] {
                var p = S, d = S
                glmk_masked_softmax_forward(&p, S, mask, B, H, Q, K, B, 0.25)
                glmk_masked_softmax_backward(&d, dP, p, mask, B, H, Q, K, B, 0.25)
                return p + d
            }
            let one = withKernelThreads(1, run)
            XCTAssertEqual(bits(one), bits(withKernelThreads(2, run)), "L\(level)")
            assertClose(Array(one[S.count...]), dr, atol: 1e-6, rtol: 1e-5, "fast vs naive backward L\(level)")
        }
    }
}
