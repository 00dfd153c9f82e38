// Embedding lookup and scatter-add backward: exactness, bad ids (negative and ≥ V) rejected without writes,
// accumulate mode, gradcheck of the backward, identical results for 1 and 2 threads.
import CGLMKernels
import XCTest

final class KernelTestsEmbedding: XCTestCase {
    func testForwardCopiesRowsAndAccumulates() {
        var rng = KernelRNG(seed: 40)
        forEachCPULevel { level in
            for (N, C, V) in [(1, 1, 1), (3, 7, 5), (17, 33, 4), (129, 17, 300), (5, 1000, 9)] {
                let table = rng.floats(V * C), ids = (0..<N).map { _ in Int32(rng.int(V)) }
                var y = [Float](repeating: 0, count: N * C + 1)
                y[N * C] = 4
                XCTAssertEqual(glmk_embedding_forward(&y, ids, table, N, C, V, 0), 0)
                XCTAssertEqual(y[N * C], 4, "wrote past the end")
                let expected = ids.flatMap { table[(Int($0) * C)..<((Int($0) + 1) * C)] }
                XCTAssertEqual(Array(y[0..<(N * C)]), expected, "L\(level) \(N)x\(C)")
                let base = rng.floats(N * C)
                var acc = base
                XCTAssertEqual(glmk_embedding_forward(&acc, ids, table, N, C, V, 1), 0)
                XCTAssertEqual(acc, zip(base, expected).map { $0 + $1 }, "accumulate L\(level)")
            }
        }
    }

    func testOutOfRangeIdsAreRejectedWithoutWriting() {
        let table = randomFloats(seed: 41, 4 * 3)
        for bad: [Int32] in [[0, 4, 1], [0, 1, -1], [Int32.min], [Int32.max]] {
            var y = [Float](repeating: 7, count: bad.count * 3)
            XCTAssertEqual(glmk_embedding_forward(&y, bad, table, bad.count, 3, 4, 0), -1, "\(bad)")
            XCTAssertEqual(y, [Float](repeating: 7, count: bad.count * 3), "wrote something for \(bad)")
        }
    }

    func testBackwardScattersAndPassesGradcheck() {
        var rng = KernelRNG(seed: 42)
        forEachCPULevel { level in
            for (N, C, V) in [(1, 1, 1), (6, 7, 3), (33, 17, 5), (100, 129, 40)] {
                let ids = (0..<N).map { _ in Int32(rng.int(V)) }, dy = rng.floats(N * C)
                let dt0 = rng.floats(V * C)
                var dt = dt0
                glmk_embedding_backward(&dt, dy, ids, N, C, V)
                var ref = dt0.asDouble
                for i in 0..<N { for c in 0..<C { ref[Int(ids[i]) * C + c] += Double(dy[i * C + c]) } }
                assertClose(dt, ref, atol: 1e-6, rtol: 1e-6, "scatter L\(level) \(N)x\(C) V\(V)")
            }
        }
        // The scatter is the gradient of Σ (table[ids]·r): gradcheck of the float64 scatter, then the kernel
        // against it.
        let (N, C, V) = (5, 3, 4)
        let ids: [Int32] = [1, 3, 1, 0, 1], table = rng.floats(V * C).asDouble, r = rng.floats(N * C)
        var g64 = [Double](repeating: 0, count: V * C)
        for i in 0..<N { for c in 0..<C { g64[Int(ids[i]) * C + c] += Double(r[i * C + c]) } }
        let err = gradcheck(table, analytic: g64) { t in
            dot(ids.flatMap { t[(Int($0) * C)..<((Int($0) + 1) * C)] }, r.asDouble)
        }
        XCTAssertLessThan(err, 1e-6)
        var g = [Float](repeating: 0, count: V * C)
        glmk_embedding_backward(&g, r, ids, N, C, V)
        assertClose(g, g64, atol: 1e-6, rtol: 1e-6, "kernel scatter vs float64")
    }

    func testBackwardIdenticalForOneAndTwoThreads() {
        var rng = KernelRNG(seed: 43)
        let (N, C, V) = (513, 77, 11) // many repeats of each id: the order of additions matters
        let ids = (0..<N).map { _ in Int32(rng.int(V)) }, dy = rng.floats(N * C)
        forEachCPULevel { level in
            func run() -> [Float] {
                var dt = [Float](repeating: 0.1, count: V * C)
                glmk_embedding_backward(&dt, dy, ids, N, C, V)
                return dt
            }
            XCTAssertEqual(bits(withKernelThreads(1, run)), bits(withKernelThreads(2, run)), "L\(level)")
        }
    }
}
