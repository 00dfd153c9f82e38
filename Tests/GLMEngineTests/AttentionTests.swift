import CGLMKernels
import XCTest
@testable import GLMEngine

/// The fused attention op and GLM's masks against naive float64 loops.
final class AttentionTests: XCTestCase {
    func testMaskFromSepExact() throws {
        // q = 4, sep = 2, no memories: rows are queries, columns keys.
        let m = try AttentionMask.glm(seps: [2], batch: 3, queryLength: 4)
        XCTAssertEqual(m.shape, [1, 4, 4])
        XCTAssertEqual(m.toFloats(), [1, 1, 0, 0,
                                      1, 1, 0, 0,
                                      1, 1, 1, 0,
                                      1, 1, 1, 1])
        // per-sample seps, 2 memory columns prepended as ones
        let m2 = try AttentionMask.glm(seps: [0, 3], batch: 2, queryLength: 3, memoryLength: 2)
        XCTAssertEqual(m2.shape, [2, 3, 5])
        XCTAssertEqual(m2.toFloats(), [1, 1, 1, 0, 0,
                                       1, 1, 1, 1, 0,
                                       1, 1, 1, 1, 1,
                                       1, 1, 1, 1, 1,
                                       1, 1, 1, 1, 1,
                                       1, 1, 1, 1, 1])
        // decode step (q = 1, sep 0) with 4 memories: everything visible
        XCTAssertEqual(try AttentionMask.glm(seps: [0], batch: 1, queryLength: 1, memoryLength: 4).toFloats(), [1, 1, 1, 1, 1])
        XCTAssertThrowsError(try AttentionMask.glm(seps: [1, 2, 3], batch: 2, queryLength: 3))
        // explicit mask: the last m + q columns
        let e = try Tensor(shape: [1, 1, 2, 4], values: [9, 1, 0, 1, 9, 1, 1, 0])
        XCTAssertEqual(try AttentionMask.explicit(e, queryLength: 2, memoryLength: 1).toFloats(), [1, 0, 1, 1, 1, 0])
    }

    /// Random 0/1 mask with every row having at least one 1 (so no row is all −65504).
    func randomMask(_ bm: Int, _ q: Int, _ k: Int, seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        let t = Tensor(uninitialized: [bm, q, k])
        for r in 0..<(bm * q) {
            for j in 0..<k { t.floats[r * k + j] = g.nextUniform() < 0.7 ? 1 : 0 }
            t.floats[r * k + Int(g.next() % UInt64(k))] = 1
        }
        return t
    }

    func testFusedQKVAttentionForwardBackward() throws {
        // b = 3, s = 5, heads 2 × d 3 (h = 6): odd sizes everywhere; mask per sample from seps.
        let b = 3, s = 5, heads = 2, h = 6
        let mask = try AttentionMask.glm(seps: [2, 0, 5], batch: b, queryLength: s)
        let mk = doubles(mask)
        // Both paths: batched products over all heads (decode) and head by head (training, prefill).
        for packing in [Int.max, 1] {
        let r = try gradcheck("attention(qkv) \(packing == 1 ? "by heads" : "batched")", inputs: [randn([b, s, 3 * h], seed: 40)],
                              reference: { x in
                                  Ref.attention(q: x[0], qShape: [b, s, 3 * h], qCol: 0, qRow: 0, k: x[0], kShape: [b, s, 3 * h],
                                                kCol: h, kRow: 0, v: x[0], vShape: [b, s, 3 * h], vCol: 2 * h, vRow: 0,
                                                heads: heads, hidden: h, ql: s, kl: s, mask: mk, bm: b)
                              },
                              referenceBackward: { x, dy in
                                  let g = Ref.attentionBackward(q: x[0], qShape: [b, s, 3 * h], qCol: 0, qRow: 0, k: x[0], kShape: [b, s, 3 * h],
                                                                kCol: h, kRow: 0, v: x[0], vShape: [b, s, 3 * h], vCol: 2 * h, vRow: 0,
                                                                heads: heads, hidden: h, ql: s, kl: s, mask: mk, bm: b, dout: dy)
                                  return [zip(zip(g.dq, g.dk).map(+), g.dv).map(+)]
                              },
                              op: { $0.attentionByHeadsMinQueries = packing; return try $0.attention(qkv: $1[0], heads: heads, mask: mask) })
        XCTAssertLessThan(r.forward, 1e-6)
        }
    }

    func testAttentionWithMemoriesAndSharedMask() throws {
        // qkv over cat(mem, x): m = 3 memory rows, q = 2 query rows → keys 5; mask Bm = 1, random.
        let b = 2, m = 3, q = 2, heads = 3, h = 9
        let mask = randomMask(1, q, m + q, seed: 41)
        let mk = doubles(mask)
        for packing in [Int.max, 1] {
        try gradcheck("attention(qkv, mems) \(packing == 1 ? "by heads" : "batched")", inputs: [randn([b, m + q, 3 * h], seed: 42)],
                      reference: { x in
                          Ref.attention(q: x[0], qShape: [b, m + q, 3 * h], qCol: 0, qRow: m, k: x[0], kShape: [b, m + q, 3 * h],
                                        kCol: h, kRow: 0, v: x[0], vShape: [b, m + q, 3 * h], vCol: 2 * h, vRow: 0,
                                        heads: heads, hidden: h, ql: q, kl: m + q, mask: mk, bm: 1)
                      },
                      referenceBackward: { x, dy in
                          let g = Ref.attentionBackward(q: x[0], qShape: [b, m + q, 3 * h], qCol: 0, qRow: m, k: x[0], kShape: [b, m + q, 3 * h],
                                                        kCol: h, kRow: 0, v: x[0], vShape: [b, m + q, 3 * h], vCol: 2 * h, vRow: 0,
                                                        heads: heads, hidden: h, ql: q, kl: m + q, mask: mk, bm: 1, dout: dy)
                          return [zip(zip(g.dq, g.dk).map(+), g.dv).map(+)]
                      },
                      op: { $0.attentionByHeadsMinQueries = packing; return try $0.attention(qkv: $1[0], heads: heads, mask: mask, memoryLength: m) })
        }
    }

    func testSeparateQKVAndCacheOperands() throws {
        // query [b, q, h], key/value taken from rows 1..<1+k of [b, 7, h] cache-like tensors.
        let b = 2, q = 3, k = 4, heads = 1, h = 5
        let mask = randomMask(b, q, k, seed: 43)
        let mk = doubles(mask)
        for packing in [Int.max, 1] {
        try gradcheck("attention(operands) \(packing == 1 ? "by heads" : "batched")", inputs: [randn([b, q, h], seed: 44), randn([b, 7, h], seed: 45), randn([b, 7, 2 * h], seed: 46)],

                      reference: { x in
                          Ref.attention(q: x[0], qShape: [b, q, h], qCol: 0, qRow: 0, k: x[1], kShape: [b, 7, h], kCol: 0, kRow: 1,
                                        v: x[2], vShape: [b, 7, 2 * h], vCol: h, vRow: 1, heads: heads, hidden: h, ql: q, kl: k,
                                        mask: mk, bm: b)
                      },
                      referenceBackward: { x, dy in
                          let g = Ref.attentionBackward(q: x[0], qShape: [b, q, h], qCol: 0, qRow: 0, k: x[1], kShape: [b, 7, h], kCol: 0, kRow: 1,
                                                        v: x[2], vShape: [b, 7, 2 * h], vCol: h, vRow: 1, heads: heads, hidden: h, ql: q, kl: k,
                                                        mask: mk, bm: b, dout: dy)
                          return [g.dq, g.dk, g.dv]
                      },
                      op: { tape, v in
                          tape.attentionByHeadsMinQueries = packing
                          return try tape.attention(query: AttentionOperand(v[0]), key: AttentionOperand(v[1], firstRow: 1),
                                                    value: AttentionOperand(v[2], column: h, firstRow: 1), heads: heads, hidden: h,
                                                    queryLength: q, keyLength: k, mask: mask)
                      })
        }
    }

    func testAttentionShapeErrors() throws {
        let tape = Tape()
        let qkv = Variable(randn([1, 4, 12], seed: 1))
        XCTAssertThrowsError(try tape.attention(qkv: qkv, heads: 3, mask: Tensor(zeros: [1, 4, 4])))  // 4 % 3 ≠ 0
        XCTAssertThrowsError(try tape.attention(qkv: qkv, heads: 2, mask: Tensor(zeros: [1, 3, 4])))  // mask rows
        XCTAssertThrowsError(try tape.attention(qkv: qkv, heads: 2, mask: Tensor(zeros: [2, 4, 4])))  // mask batch
    }
}


/// The two implementations of `Tape.attention` (batched products over all heads; head by head with the
/// scores in cache) must be the same function: same outputs, gradients, dropout masks and dropout counter.
final class AttentionPathTests: XCTestCase {
    func run(byHeads: Bool, qkv: Tensor, dy: Tensor, heads: Int, mask: Tensor, memory m: Int, dropout p: Float)
        throws -> (out: [Float], grad: [Float], offset: UInt64) {
        // Two threads and no size threshold: heads are really split over threads (per-thread scratch).
        let threads = Runtime.threads
        Runtime.setThreads(2)
        let minWork = glmk_set_parallel_min_work(0)
        defer { Runtime.setThreads(threads); glmk_set_parallel_min_work(minWork) }
        let tape = Tape(recording: true, training: true, dropoutSeed: 5)
        tape.dropoutOffset = 1000
        tape.attentionByHeadsMinQueries = byHeads ? 1 : Int.max
        let x = Variable(qkv.copy(), requiresGrad: true)
        let out = try tape.attention(qkv: x, heads: heads, mask: mask, memoryLength: m, dropout: p)
        let offset = tape.dropoutOffset
        try tape.backward(from: out, gradient: dy)
        return (out.value.toFloats(), x.grad!.toFloats(), offset)
    }

    func testBatchedAndByHeadsAgree() throws {
        // (b, rows, m, heads, h, dropout, per-sample mask): plain training, memories (q < k), dropout.
        for (b, rows, m, heads, h, p, perSample) in [(2, 20, 0, 3, 12, Float(0), true), (3, 17, 5, 4, 16, 0, false),
                                                     (2, 24, 0, 2, 8, 0.3, true)] {
            let q = rows - m
            let mask = perSample ? try AttentionMask.glm(seps: (0..<b).map { 3 + 5 * $0 }, batch: b, queryLength: q, memoryLength: m)
                                 : try AttentionMask.glm(seps: [4], batch: b, queryLength: q, memoryLength: m)
            let qkv = randn([b, rows, 3 * h], seed: UInt64(rows)), dy = randn([b, q, h], seed: UInt64(rows + 1))
            let batched = try run(byHeads: false, qkv: qkv, dy: dy, heads: heads, mask: mask, memory: m, dropout: p)
            let byHeads = try run(byHeads: true, qkv: qkv, dy: dy, heads: heads, mask: mask, memory: m, dropout: p)
            let what = "b\(b) rows \(rows) m\(m) heads \(heads) dropout \(p)"
            assertClose(byHeads.out.asDouble, batched.out.asDouble, tol: 1e-6, "output, " + what)
            assertClose(byHeads.grad.asDouble, batched.grad.asDouble, tol: 1e-6, "gradient, " + what)
            XCTAssertEqual(byHeads.offset, batched.offset, "dropout counter, " + what)
            XCTAssertEqual(byHeads.offset, 1000 + (p > 0 ? UInt64(b * heads * q * rows) : 0))
        }
    }
}
