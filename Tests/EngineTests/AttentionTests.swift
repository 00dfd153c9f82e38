import XCTest
@testable import Engine

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
        let r = try gradcheck("attention(qkv)", inputs: [randn([b, s, 3 * h], seed: 40)], forwardTol: 2e-5, gradTol: 2e-4,
                              reference: { x in
                                  Ref.attention(q: x[0], qShape: [b, s, 3 * h], qCol: 0, qRow: 0, k: x[0], kShape: [b, s, 3 * h],
                                                kCol: h, kRow: 0, v: x[0], vShape: [b, s, 3 * h], vCol: 2 * h, vRow: 0,
                                                heads: heads, hidden: h, ql: s, kl: s, mask: mk, bm: b)
                              },
                              op: { try $0.attention(qkv: $1[0], heads: heads, mask: mask) })
        XCTAssertLessThan(r.forward, 2e-5)
    }

    func testAttentionWithMemoriesAndSharedMask() throws {
        // qkv over cat(mem, x): m = 3 memory rows, q = 2 query rows → keys 5; mask Bm = 1, random.
        let b = 2, m = 3, q = 2, heads = 3, h = 9
        let mask = randomMask(1, q, m + q, seed: 41)
        let mk = doubles(mask)
        try gradcheck("attention(qkv, mems)", inputs: [randn([b, m + q, 3 * h], seed: 42)], gradTol: 2e-4,
                      reference: { x in
                          Ref.attention(q: x[0], qShape: [b, m + q, 3 * h], qCol: 0, qRow: m, k: x[0], kShape: [b, m + q, 3 * h],
                                        kCol: h, kRow: 0, v: x[0], vShape: [b, m + q, 3 * h], vCol: 2 * h, vRow: 0,
                                        heads: heads, hidden: h, ql: q, kl: m + q, mask: mk, bm: 1)
                      },
                      op: { try $0.attention(qkv: $1[0], heads: heads, mask: mask, memoryLength: m) })
    }

    func testSeparateQKVAndCacheOperands() throws {
        // query [b, q, h], key/value taken from rows 1..<1+k of [b, 7, h] cache-like tensors.
        let b = 2, q = 3, k = 4, heads = 1, h = 5
        let mask = randomMask(b, q, k, seed: 43)
        let mk = doubles(mask)
        try gradcheck("attention(operands)", inputs: [randn([b, q, h], seed: 44), randn([b, 7, h], seed: 45), randn([b, 7, 2 * h], seed: 46)],
                      gradTol: 2e-4,
                      reference: { x in
                          Ref.attention(q: x[0], qShape: [b, q, h], qCol: 0, qRow: 0, k: x[1], kShape: [b, 7, h], kCol: 0, kRow: 1,
                                        v: x[2], vShape: [b, 7, 2 * h], vCol: h, vRow: 1, heads: heads, hidden: h, ql: q, kl: k,
                                        mask: mk, bm: b)
                      },
                      op: { tape, v in
                          try tape.attention(query: AttentionOperand(v[0]), key: AttentionOperand(v[1], firstRow: 1),
                                             value: AttentionOperand(v[2], column: h, firstRow: 1), heads: heads, hidden: h,
                                             queryLength: q, keyLength: k, mask: mask)
                      })
    }

    func testAttentionShapeErrors() throws {
        let tape = Tape()
        let qkv = Variable(randn([1, 4, 12], seed: 1))
        XCTAssertThrowsError(try tape.attention(qkv: qkv, heads: 3, mask: Tensor(zeros: [1, 4, 4])))  // 4 % 3 ≠ 0
        XCTAssertThrowsError(try tape.attention(qkv: qkv, heads: 2, mask: Tensor(zeros: [1, 3, 4])))  // mask rows
        XCTAssertThrowsError(try tape.attention(qkv: qkv, heads: 2, mask: Tensor(zeros: [2, 4, 4])))  // mask batch
    }
}
