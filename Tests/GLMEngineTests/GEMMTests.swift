import CGLMOneDNN
import Foundation
import XCTest
@testable import GLMEngine

/// The oneDNN wrapper against naive float64 products: all transpose combinations, odd sizes, batched and
/// strided problems, packed decode-shaped linears, and the bf16 error bound.
final class GEMMTests: XCTestCase {
    let backend = OneDNNBackend.shared

    func testSgemmAllTransposesOddSizes() throws {
        // Sizes not divisible by 16 or 2, plus leading dimensions larger than the rows (sub-matrices).
        for (m, n, k) in [(1, 1, 1), (7, 13, 5), (33, 17, 29), (64, 48, 96), (3, 100, 1)] {
            for transA in [false, true] { for transB in [false, true] {
                let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 1, ldc = n + 2
                let aRows = transA ? k : m, bRows = transB ? n : k
                let a = randn([aRows * lda], seed: 1), b = randn([bRows * ldb], seed: 2)
                let c = randn([m * ldc], seed: 3)
                let c0 = doubles(c)
                // dense copies of the logical operands for the reference
                let ad = doubles(a), bd = doubles(b)
                let aDense = (0..<(aRows * (transA ? m : k))).map { ad[($0 / (transA ? m : k)) * lda + $0 % (transA ? m : k)] }
                let bDense = (0..<(bRows * (transB ? k : n))).map { bd[($0 / (transB ? k : n)) * ldb + $0 % (transB ? k : n)] }
                let prod = Ref.matmul(aDense, bDense, m: m, n: n, k: k, transA: transA, transB: transB)
                try backend.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: a.floats, lda: lda,
                                 b: b.floats, ldb: ldb, beta: 2, c: c.floats, ldc: ldc)
                let got = doubles(c)
                var want = c0
                for i in 0..<m { for j in 0..<n { want[i * ldc + j] = 0.5 * prod[i * n + j] + 2 * c0[i * ldc + j] } }
                assertClose(got, want, tol: 1e-5, "sgemm \(m)x\(n)x\(k) \(transA ? "T" : "N")\(transB ? "T" : "N")")
            } }
        }
    }

    func testBatchedAndStridedMatmul() throws {
        // 4-D problem: batch 3 × heads 2, per head Q (5×4) from a [3, 5, 2·4·3] fused tensor, K transposed.
        let b = 3, nh = 2, s = 5, d = 4, w = 3 * nh * d
        let qkv = randn([b, s, w], seed: 4)
        let out = Tensor(zeros: [b, nh, s, s])
        let p = StridedMatmul(batch0: b, batch1: nh, m: s, n: s, k: d,
                              strideA: [s * w, d, w, 1], strideB: [s * w, d, 1, w], strideC: [nh * s * s, s * s, s, 1])
        try backend.matmul(p, input: .float32, a: qkv.floats, b: qkv.floats + nh * d, c: out.floats, alpha: 1, beta: 0)
        let x = doubles(qkv), got = doubles(out)
        var want = [Double](repeating: 0, count: got.count)
        for bi in 0..<b { for h in 0..<nh { for i in 0..<s { for j in 0..<s {
            var acc = 0.0
            for t in 0..<d { acc += x[(bi * s + i) * w + h * d + t] * x[(bi * s + j) * w + nh * d + h * d + t] }
            want[((bi * nh + h) * s + i) * s + j] = acc
        } } } }
        assertClose(got, want, tol: 1e-5, "strided QKᵀ")
        // glmd_sgemm_batched, transposed A and accumulate
        let bt = 4, m = 7, n = 9, k = 11
        let a = randn([bt, k, m], seed: 5), bb = randn([bt, k, n], seed: 6), c = randn([bt, m, n], seed: 7)
        let c0 = doubles(c)
        XCTAssertEqual(glmd_sgemm_batched(1, 0, Int64(bt), Int64(m), Int64(n), Int64(k), 1, a.floats, Int64(k * m),
                                          bb.floats, Int64(k * n), 1, c.floats, Int64(m * n)), 0)
        var want2 = c0
        let ad = doubles(a), bd = doubles(bb)
        for i in 0..<bt {
            let prod = Ref.matmul(Array(ad[(i * k * m)..<((i + 1) * k * m)]), Array(bd[(i * k * n)..<((i + 1) * k * n)]),
                                  m: m, n: n, k: k, transA: true)
            for j in 0..<(m * n) { want2[i * m * n + j] += prod[j] }
        }
        assertClose(doubles(c), want2, tol: 1e-5, "sgemm_batched TN accumulate")
    }

    func testNoReferenceImplementationAtGLMShapes() throws {
        let cases: [(StridedMatmul, GEMMInputType)] = [
            (StridedMatmul(batch0: 24, m: 512, n: 512, k: 64, strideA: [512 * 64, 0, 64, 1], strideB: [512 * 64, 0, 512, 1],
                           strideC: [512 * 512, 0, 512, 1]), .float32),
            (StridedMatmul(m: 256, n: 768, k: 768, strideA: [0, 0, 768, 1], strideB: [0, 0, 1, 768], strideC: [0, 0, 768, 1]), .bfloat16),
            (StridedMatmul(batch0: 2, batch1: 12, m: 128, n: 128, k: 64, strideA: [128 * 2304, 64, 2304, 1],
                           strideB: [128 * 2304, 64, 1, 2304], strideC: [12 * 128 * 128, 128 * 128, 128, 1]), .float32),
        ]
        for (p, t) in cases {
            let name = try XCTUnwrap(backend.implementationName(p, input: t), String(cString: glmd_last_error()))
            XCTAssertFalse(name.contains("ref"), "\(p) \(t) uses the reference implementation \(name)")
        }
    }

    func testPackedLinearMatchesSgemmForDecodeShapes() throws {
        let n = 37, k = 45
        let w = randn([n, k], seed: 8), bias = randn([n], seed: 9)
        let tape = Tape.inference()
        let packed = try tape.packLinear(weight: w, bias: bias)
        for m in [1, 2, 3, 4, 5, 6, 7, 8, 13] {
            let x = randn([m, k], seed: UInt64(10 + m))
            let y = try tape.linear(Variable(x), packed: packed).value
            let y2 = try tape.linear(Variable(x), weight: Variable(w), bias: Variable(bias)).value
            assertClose(doubles(y), doubles(y2), tol: 1e-6, "packed vs sgemm M=\(m)")
            assertClose(doubles(y), Ref.matmul(doubles(x), doubles(w), m: m, n: n, k: k, transB: true, bias: doubles(bias)),
                        tol: 1e-5, "packed vs float64 M=\(m)")
        }
    }

    /// bf16 GEMM bound: inputs are rounded to bf16 (relative error ≤ 2^-9 each, so a product's error is
    /// ≤ (2·2^-9 + 2^-18)·|a||b| ≈ 2^-8·|a||b|), accumulation is float32 (≤ K·2^-24·Σ|a||b|, negligible).
    /// So |C − C_exact| ≤ 2^-8 · Σ_k |a_ik||b_kj| · (1 + K·2^-16); the test asserts this per element.
    func testBF16GemmWithinDerivedBound() throws {
        for (m, n, k) in [(5, 7, 3), (33, 31, 77), (64, 64, 256)] {
            let a = randn([m, k], seed: 20), b = randn([n, k], seed: 21)
            let abf = a.toBFloat16(), bbf = b.toBFloat16()
            let c = Tensor(zeros: [m, n])
            XCTAssertEqual(glmd_gemm_bf16(0, 1, Int64(m), Int64(n), Int64(k), abf.bf16, bbf.bf16, c.floats, 0), 0,
                           String(cString: glmd_last_error()))
            let ad = doubles(a), bd = doubles(b), got = doubles(c)
            var worst = 0.0
            for i in 0..<m { for j in 0..<n {
                var exact = 0.0, absSum = 0.0
                for p in 0..<k { exact += ad[i * k + p] * bd[j * k + p]; absSum += abs(ad[i * k + p] * bd[j * k + p]) }
                let bound = pow(2.0, -8) * absSum * (1 + Double(k) * pow(2.0, -16))
                worst = max(worst, abs(got[i * n + j] - exact) / bound)
            } }
            print("bf16 GEMM \(m)x\(n)x\(k): max error / bound = \(worst)")
            XCTAssertLessThanOrEqual(worst, 1, "bf16 \(m)x\(n)x\(k): error/bound = \(worst)")
            // and it is really bf16: the error must be well above float32 level somewhere
            XCTAssertGreaterThan(worst, 1e-3, "bf16 \(m)x\(n)x\(k) looks like an fp32 product")
        }
    }

    func testPackedBF16Linear() throws {
        let n = 19, k = 40
        let w = randn([n, k], seed: 30), bias = randn([n], seed: 31)
        let packed = try Tape.inference().packLinear(weight: w, bias: bias, storage: .bfloat16)
        for m in [1, 4, 8] {
            let x = randn([m, k], seed: 32)
            let y = doubles(try Tape.inference().linear(Variable(x), packed: packed).value)
            let xd = doubles(x), wd = doubles(w), bd = doubles(bias)
            for i in 0..<m { for j in 0..<n {
                var exact = bd[j], absSum = 0.0
                for p in 0..<k { exact += xd[i * k + p] * wd[j * k + p]; absSum += abs(xd[i * k + p] * wd[j * k + p]) }
                XCTAssertLessThanOrEqual(abs(y[i * n + j] - exact), pow(2.0, -8) * absSum * 1.01 + 1e-6, "packed bf16 M=\(m)")
            } }
        }
    }

    func testBackendErrorsAreThrownNotCrashes() {
        XCTAssertThrowsError(try backend.gemm(transA: false, transB: false, m: -1, n: 2, k: 2, alpha: 1,
                                              a: [Float](repeating: 0, count: 4), lda: 2, b: [Float](repeating: 0, count: 4),
                                              ldb: 2, beta: 0, c: UnsafeMutablePointer<Float>.allocate(capacity: 4), ldc: 2))
        XCTAssertNil(glmd_packed_linear_create(nil, nil, 4, 4, 0))
        XCTAssertFalse(String(cString: glmd_last_error()).isEmpty)
    }

    func testPrimitiveCacheStopsGrowing() throws {
        let a = randn([8, 8], seed: 1), c = Tensor(zeros: [8, 8])
        let p = StridedMatmul(batch0: 2, m: 4, n: 8, k: 8, strideA: [32, 0, 8, 1], strideB: [0, 0, 8, 1], strideC: [32, 0, 8, 1])
        try backend.matmul(p, input: .float32, a: a.floats, b: a.floats, c: c.floats, alpha: 1, beta: 0)
        let size = glmd_cache_size()
        for _ in 0..<5 { try backend.matmul(p, input: .float32, a: a.floats, b: a.floats, c: c.floats, alpha: 1, beta: 0) }
        XCTAssertEqual(glmd_cache_size(), size)
    }
}

final class AutoPackTests: XCTestCase {
    /// Inference with decode-sized inputs goes through packed weights, which follow optimizer updates.
    func testInferenceLinearUsesPackedWeightsAndTracksUpdates() throws {
        let w = Parameter(name: "w", value: randn([10, 6], seed: 1)), b = Parameter(name: "b", value: randn([10], seed: 2), weightDecay: false)
        let x = randn([3, 6], seed: 3)
        let infer = Tape.inference()
        let y1 = try infer.linear(Variable(x), weight: w, bias: b).value
        assertClose(doubles(y1), Ref.matmul(doubles(x), doubles(w.value), m: 3, n: 10, k: 6, transB: true, bias: doubles(b.value)),
                    tol: 1e-6, "packed inference linear")
        XCTAssertTrue(w.hasPackedCopy, "3 rows on an inference tape must use packed weights")
        let big = randn([9, 6], seed: 4)
        _ = try Tape().linear(Variable(big), weight: w, bias: b)  // recording: plain sgemm, cache untouched
        // an optimizer step changes the weights: the packed copy must be rebuilt
        w.gradient.fill(1); b.gradient.fill(1)
        AdamW(parameters: [w, b], learningRate: 0.1).step()
        XCTAssertFalse(w.hasPackedCopy, "an optimizer step must drop the stale packed copy")
        let y2 = try infer.linear(Variable(x), weight: w, bias: b).value
        assertClose(doubles(y2), Ref.matmul(doubles(x), doubles(w.value), m: 3, n: 10, k: 6, transB: true, bias: doubles(b.value)),
                    tol: 1e-6, "packed inference linear after an update")
        // bf16 packed weights stay within the bf16 bound
        infer.packedLinearType = .bfloat16
        let y3 = doubles(try infer.linear(Variable(x), weight: w, bias: b).value)
        assertClose(y3, doubles(y2), tol: 2e-2, "bf16 packed inference linear")
    }
}

final class ThreadSettingTests: XCTestCase {
    /// The thread count reaches oneDNN calls made from another OS thread (libgomp's count is per thread).
    func testThreadCountAppliesOnOtherThreads() throws {
        let saved = Runtime.threads
        defer { Runtime.setThreads(saved) }
        Runtime.setThreads(1)
        let a = randn([16, 16], seed: 1), c1 = Tensor(zeros: [16, 16]), c2 = Tensor(zeros: [16, 16])
        try OneDNNBackend.shared.gemm(transA: false, transB: false, m: 16, n: 16, k: 16, alpha: 1, a: a.floats, lda: 16,
                                      b: a.floats, ldb: 16, beta: 0, c: c1.floats, ldc: 16)
        let done = expectation(description: "other thread")
        let thread = Thread {
            try? OneDNNBackend.shared.gemm(transA: false, transB: false, m: 16, n: 16, k: 16, alpha: 1, a: a.floats, lda: 16,
                                           b: a.floats, ldb: 16, beta: 0, c: c2.floats, ldc: 16)
            XCTAssertEqual(omp_get_max_threads_forTest(), 1)
            done.fulfill()
        }
        thread.start()
        wait(for: [done], timeout: 30)
        XCTAssertEqual(c1.toFloats(), c2.toFloats())
    }
}

@_silgen_name("omp_get_max_threads") func omp_get_max_threads_forTest() -> Int32
