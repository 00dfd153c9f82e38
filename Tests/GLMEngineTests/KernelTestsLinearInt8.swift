// Weight-only int8 linear: the quantizer against its twin (exactly) and its round-trip bound, the product
// against its float64 twin at every CPU level and thread count, and Tape.linear through the per-parameter
// int8 pack against float32.
import CGLMKernels
import XCTest
@testable import GLMEngine

final class KernelTestsLinearInt8: XCTestCase {
    /// (M, N, K): decode rows 1–8, prefill-sized M, K below/at/around the vector widths, odd N (tiles of 4/2/1).
    static let shapes = [(1, 1, 1), (1, 5, 7), (1, 33, 16), (2, 7, 17), (3, 9, 31), (4, 64, 64), (5, 13, 100),
                         (8, 47, 257), (1, 768, 768), (8, 130, 768), (37, 21, 65)]

    func quantize(_ w: [Float], _ n: Int, _ k: Int) -> ([Int8], [Float]) {
        var q = [Int8](repeating: 0, count: n * k), s = [Float](repeating: 0, count: n)
        glmk_quantize_int8_rows(&q, &s, w, n, k)
        return (q, s)
    }

    /// Identical to the twin, |w − scale·q| ≤ scale/2 (·(1 + 1e-5) for the float division and product),
    /// |q| ≤ 127 with ±127 reached in every nonzero row, zero rows give scale 0, any thread count same bits.
    func testQuantizeMatchesTwinAndRoundTripBound() {
        var rng = KernelRNG(seed: 11)
        for (n, k) in [(1, 1), (3, 7), (17, 33), (64, 100), (5, 1000)] {
            var w = rng.floats(n * k, -3, 3)
            if n > 2 { for j in 0..<k { w[2 * k + j] = 0 } }  // an all-zero row
            let (q, s) = withKernelThreads(4) { quantize(w, n, k) }
            let (q1, s1) = withKernelThreads(1) { quantize(w, n, k) }
            var qr = [Int8](repeating: 0, count: n * k), sr = [Float](repeating: 0, count: n)
            glmk_quantize_int8_rows_ref(&qr, &sr, w, n, k)
            XCTAssertEqual(q, qr, "q vs twin \(n)x\(k)"); XCTAssertEqual(bits(s), bits(sr), "scale vs twin \(n)x\(k)")
            XCTAssertEqual(q, q1); XCTAssertEqual(bits(s), bits(s1))
            var worst = 0.0
            for r in 0..<n {
                let row = w[(r * k)..<((r + 1) * k)]
                let amax = row.map { abs($0) }.max()!
                XCTAssertEqual(s[r], amax / 127, "scale row \(r)")
                if amax == 0 { XCTAssertTrue(q[(r * k)..<((r + 1) * k)].allSatisfy { $0 == 0 }); continue }
                XCTAssertTrue(q[(r * k)..<((r + 1) * k)].contains { abs(Int($0)) == 127 }, "max row element → ±127")
                for j in 0..<k {
                    XCTAssertLessThanOrEqual(abs(Int(q[r * k + j])), 127)
                    let err = abs(Double(w[r * k + j]) - Double(s[r]) * Double(q[r * k + j]))
                    worst = max(worst, err / Double(s[r]))
                    XCTAssertLessThanOrEqual(err, Double(s[r]) / 2 * (1 + 1e-5), "round trip \(n)x\(k) [\(r), \(j)]")
                }
            }
            if n * k >= 100 { XCTAssertGreaterThan(worst, 0.4, "round-trip errors should use most of the ±scale/2 range") }
        }
    }

    /// The product against the float64 twin: |y − y_ref| ≤ 1e-5·(scale·Σ_k |x·q| + |bias|) + 1e-30 (the fp32
    /// accumulation's error relative to the magnitude of the terms), at every CPU level, with 1 and 3 threads
    /// (identical bits: each output is one in-order sum), with and without bias, no write past y's end.
    func testForwardMatchesTwinAtEveryLevel() {
        var rng = KernelRNG(seed: 12)
        var cases: [(Int, Int, Int, [Float], [Int8], [Float], [Float])] = []
        for (m, n, k) in Self.shapes {
            let x = rng.floats(m * k, -2, 2), w = rng.floats(n * k), bias = rng.floats(n)
            let (q, s) = quantize(w, n, k)
            cases.append((m, n, k, x, q, s, bias))
        }
        var worstRatio = 0.0
        forEachCPULevel { level in
            for (m, n, k, x, q, s, bias) in cases {
                // Level 3 (AVX512_BF16) multiplies on bf16 dot products: x rounded to bf16 once (its twin gets
                // the same rounded x); the int8 weights are exact in bf16.
                let xUsed = level >= 3 ? x.map { Float(bitPattern: UInt32(bf16Bits($0)) << 16) } : x
                for withBias in [true, false] {
                    var yRef = [Float](repeating: 0, count: m * n)
                    glmk_linear_int8w_forward_ref(&yRef, xUsed, q, s, withBias ? bias : nil, m, n, k)
                    var outs: [[Float]] = []
                    for (threads, failScratch) in [(Int32(1), false), (3, false), (2, true)] {
                        var y = [Float](repeating: .nan, count: m * n + 1)
                        y[m * n] = 42
                        glmk_test_fail_scratch(failScratch ? 1 : 0)
                        withKernelThreads(threads) {
                            glmk_linear_int8w_forward(&y, x, q, s, withBias ? bias : nil, m, n, k)
                        }
                        glmk_test_fail_scratch(0)
                        XCTAssertEqual(y[m * n], 42, "wrote past y, L\(level) \(m)x\(n)x\(k)")
                        outs.append(Array(y[0..<(m * n)]))
                    }
                    XCTAssertEqual(bits(outs[0]), bits(outs[1]), "thread count changed bits, L\(level) \(m)x\(n)x\(k)")
                    XCTAssertEqual(bits(outs[0]), bits(outs[2]), "the allocation-free path changed bits, L\(level) \(m)x\(n)x\(k)")
                    for i in 0..<m { for j in 0..<n {
                        var absSum = 0.0
                        for p in 0..<k { absSum += abs(Double(xUsed[i * k + p]) * Double(q[j * k + p])) }
                        let mag = absSum * Double(s[j]) + (withBias ? abs(Double(bias[j])) : 0)
                        let err = abs(Double(outs[0][i * n + j]) - Double(yRef[i * n + j]))
                        let ratio = err / (1e-5 * mag + 1e-30)
                        worstRatio = max(worstRatio, ratio)
                        XCTAssertLessThanOrEqual(ratio, 1, "L\(level) \(m)x\(n)x\(k) [\(i), \(j)] err \(err) mag \(mag)")
                    } }
                }
            }
        }
        print("int8w forward vs float64 twin: worst error = \(worstRatio) of 1e-5·(scale·Σ|x·q| + |b|)")
    }

    /// A row decoded alone (M = 1: one weight row at a time) gives the bits it gets in a batch of 3, 8 or 9
    /// (other tilings), at every CPU level, for the int8 and the plain bf16 kernels: decoding results do not
    /// depend on what else is batched.
    func testOneRowEqualsItsRowInABatchBitForBit() {
        var rng = KernelRNG(seed: 14)
        let n = 37, k = 100
        let w = rng.floats(n * k), bias = rng.floats(n)
        let (q, s) = quantize(w, n, k)
        var wb = [UInt16](repeating: 0, count: n * k)
        glmk_f32_to_bf16(&wb, w, n * k)
        forEachCPULevel { level in
            for m in [3, 8, 9] {
                let x = rng.floats(m * k, -2, 2)
                var yi = [Float](repeating: 0, count: m * n), yb = [Float](repeating: 0, count: m * n)
                glmk_linear_int8w_forward(&yi, x, q, s, bias, m, n, k)
                glmk_linear_bf16w_forward(&yb, x, wb, bias, m, n, k)
                for r in 0..<m {
                    let row = Array(x[(r * k)..<((r + 1) * k)])
                    var one = [Float](repeating: 0, count: n), oneB = [Float](repeating: 0, count: n)
                    glmk_linear_int8w_forward(&one, row, q, s, bias, 1, n, k)
                    glmk_linear_bf16w_forward(&oneB, row, wb, bias, 1, n, k)
                    XCTAssertEqual(bits(one), bits(Array(yi[(r * n)..<((r + 1) * n)])), "int8 L\(level) row \(r) of \(m)")
                    XCTAssertEqual(bits(oneB), bits(Array(yb[(r * n)..<((r + 1) * n)])), "bf16w L\(level) row \(r) of \(m)")
                }
            }
        }
    }

    /// x rounded to bf16 (round to nearest even; the test inputs have no denormals or NaNs).
    func bf16Bits(_ v: Float) -> UInt16 {
        let u = v.bitPattern
        return UInt16(truncatingIfNeeded: (u &+ 0x7FFF &+ ((u >> 16) & 1)) >> 16)
    }

    /// M = 0 or N = 0 writes nothing; K = 0 gives y = bias (or 0).
    func testEmptyShapes() {
        var y: [Float] = [7, 7]
        glmk_linear_int8w_forward(&y, [], [], [1], nil, 0, 1, 3)
        glmk_linear_int8w_forward(&y, [1, 2, 3], [], [], nil, 1, 0, 3)
        XCTAssertEqual(y, [7, 7])
        glmk_linear_int8w_forward(&y, [], [], [0.5, 0.5], [1, 2], 1, 2, 0)
        XCTAssertEqual(y, [1, 2])
    }
}

final class Int8PackTests: XCTestCase {
    /// Tape.linear through a Parameter's int8 pack against float32: each output is off by at most
    /// Σ_k |x_k|·scale[n]/2 (the quantisation bound) plus float32 rounding; packed once, cached as `.int8`
    /// only (no float32 pack beside it), rebuilt after an update; prompt-sized inputs use it too.
    func testTapeLinearWithInt8PackWithinQuantisationBound() throws {
        let n = 48, k = 80
        let w = Parameter(name: "w", value: randn([n, k], seed: 21))
        let b = Parameter(name: "b", value: randn([n], seed: 22), weightDecay: false)
        let tape = Tape.inference(packedWeights: .int8)
        for m in [1, 3, 8, 40] {
            let x = randn([m, k], seed: 23 + UInt64(m))
            let y = doubles(try tape.linear(Variable(x), weight: w, bias: b).value)
            let exact = Ref.matmul(doubles(x), doubles(w.value), m: m, n: n, k: k, transB: true, bias: doubles(b.value))
            let xd = doubles(x), wd = doubles(w.value)
            var worst = 0.0, worstBound = 0.0
            for i in 0..<m { for j in 0..<n {
                let row = wd[(j * k)..<((j + 1) * k)]
                let scale = row.map(abs).max()! / 127
                var xAbs = 0.0, absSum = 0.0
                for p in 0..<k { xAbs += abs(xd[i * k + p]); absSum += abs(xd[i * k + p] * wd[j * k + p]) }
                let bound = xAbs * scale / 2 * (1 + 1e-5) + 1e-5 * (absSum + abs(doubles(b.value)[j]))
                let err = abs(y[i * n + j] - exact[i * n + j])
                worst = max(worst, err / bound); worstBound = max(worstBound, err)
                XCTAssertLessThanOrEqual(err, bound, "int8 linear M=\(m) [\(i), \(j)]")
            } }
            print("int8 Tape.linear M=\(m): max |Δ| = \(worstBound), worst error = \(worst) of the quantisation bound")
            XCTAssertGreaterThan(worstBound, 1e-4, "M=\(m) looks like a float32 product, not int8")
        }
        XCTAssertEqual(w.packedStorageTypes, [.int8], "the int8 tape must build only an int8 pack")
        XCTAssertEqual(w.packedCopyBuilds, 1, "one pack for every call")
        // A plain uncached pack agrees bit for bit with the cached one.
        let plain = try tape.packLinear(weight: w.value, bias: b.value, storage: .int8)
        XCTAssertTrue(plain is Int8PackedLinear)
        let x = randn([2, k], seed: 40)
        XCTAssertEqual(try tape.linear(Variable(x), packed: plain).value.toFloats(),
                       try tape.linear(Variable(x), weight: w, bias: b).value.toFloats())
        // An update drops the stale pack; the next call re-quantises.
        w.value.floats[0] += 1; w.markModified()
        XCTAssertFalse(w.hasPackedCopy)
        _ = try tape.linear(Variable(x), weight: w, bias: b)
        XCTAssertEqual(w.packedCopyBuilds, 2)
    }

    /// A parameter with `quantizesToInt8 = false` (GLM's tied output projection) keeps bf16 values under
    /// an int8 tape: the product equals the float32 product with the weights rounded to bf16 (x stays
    /// float32) within float32 summation error, far inside int8's error; one pack, filed as `.int8`.
    func testNonQuantizedParameterKeepsBF16UnderInt8() throws {
        let n = 40, k = 96, m = 3
        let w = Parameter(name: "word_embeddings.weight", value: randn([n, k], seed: 61))
        w.quantizesToInt8 = false
        let tape = Tape.inference(packedWeights: .int8)
        let x = randn([m, k], seed: 62)
        let y = doubles(try tape.linear(Variable(x), weight: w, bias: nil).value)
        let rounded = doubles(w.value.toBFloat16().toFloat32())
        let exact = Ref.matmul(doubles(x), rounded, m: m, n: n, k: k, transB: true, bias: nil)
        let full = Ref.matmul(doubles(x), doubles(w.value), m: m, n: n, k: k, transB: true, bias: nil)
        var worst = 0.0, bf16Effect = 0.0
        for i in 0..<(m * n) {
            worst = max(worst, abs(y[i] - exact[i]) / max(1, abs(exact[i])))
            bf16Effect = max(bf16Effect, abs(exact[i] - full[i]))
        }
        print("quantizesToInt8 = false under int8: max rel |Δ| vs the bf16-weight product \(worst); bf16 rounding moves outputs by up to \(bf16Effect)")
        XCTAssertLessThanOrEqual(worst, 1e-5)
        XCTAssertGreaterThan(bf16Effect, 1e-4, "the check must tell bf16 weights from float32 ones")
        XCTAssertEqual(w.packedStorageTypes, [.int8])
        XCTAssertEqual(w.packedCopyBuilds, 1)
        _ = try tape.linear(Variable(x), weight: w, bias: nil)
        XCTAssertEqual(w.packedCopyBuilds, 1, "one pack for every call")
    }

    /// The int8 pack holds q (1 byte per weight), scales and a bias copy, nothing float32 of W's size.
    func testInt8PackMemory() throws {
        let w = randn([30, 50], seed: 50), bias = randn([30], seed: 51)
        let p = try XCTUnwrap(try Tape.inference().packLinear(weight: w, bias: bias, storage: .int8) as? Int8PackedLinear)
        XCTAssertEqual(p.byteCount, 30 * 50 + 30 * 4 * 2)
        XCTAssertEqual(p.quantizedValues.count, 30 * 50)
        XCTAssertEqual(GEMMInputType.int8.bytesPerWeight, 1)
        XCTAssertEqual(GEMMInputType(shortName: "int8"), .int8)
        XCTAssertEqual(GEMMInputType.bfloat16.shortName, "bf16")
    }

    /// int8 is a packed-weight storage type only: a strided matmul refuses it (never reinterpreted as bf16).
    func testMatmulRejectsInt8Input() {
        let a = Tensor(zeros: [2, 2]), c = Tensor(zeros: [2, 2])
        let p = StridedMatmul(m: 2, n: 2, k: 2, strideA: [0, 0, 2, 1], strideB: [0, 0, 2, 1], strideC: [0, 0, 2, 1])
        XCTAssertThrowsError(try OneDNNBackend.shared.matmul(p, input: .int8, a: a.floats, b: a.floats, c: c.floats,
                                                             alpha: 1, beta: 0))
    }
}
