// Decoding attention against a bf16 K/V cache: both kernels against their float64 twins at every CPU level
// and thread count, and Tape.attentionBF16Cache against the float32 attention on the same (widened) keys and
// values.
import CGLMKernels
import XCTest
@testable import GLMEngine

final class KernelTestsAttentionKV16: XCTestCase {
    /// (B, H, Q, Kn, D): decode (Q 1), a few queries, head widths below / at / above the vector widths.
    /// One-query batches take the row-order paths: scores in blocks of 16 keys (H not a multiple of 4 too),
    /// context 4 heads at a time where D is 4 vectors (D 64 on AVX-512, 32 on AVX2; else the per-head path).
    static let shapes = [(1, 1, 1, 1, 1), (1, 2, 1, 5, 8), (2, 3, 2, 9, 24), (1, 4, 1, 33, 16), (2, 2, 3, 17, 64),
                         (1, 12, 1, 129, 64), (3, 1, 4, 7, 33), (3, 5, 1, 21, 24), (4, 8, 1, 37, 64), (4, 4, 1, 20, 32),
                         (8, 12, 1, 19, 64)]

    func bf16(_ x: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: x.count)
        glmk_f32_to_bf16(&out, x, x.count)
        return out
    }

    /// |y − y_ref| ≤ 1e-5·Σ|terms| + 1e-30 (fp32 accumulation of D or Kn products against a float64 sum).
    func testBothKernelsMatchTheirFloat64TwinsAtEveryLevelAndThreadCount() {
        var rng = KernelRNG(seed: 21)
        for (b, h, q, kn, d) in Self.shapes {
            let hd = h * d, cap = kn + 3   // a cache with unused rows after the keys
            let qkvRow = 3 * hd          // the query is the Q block of a fused QKV row
            let query = rng.floats(b * q * qkvRow)
            let keys = bf16(rng.floats(b * cap * hd)), values = bf16(rng.floats(b * cap * hd))
            var probs = rng.floats(b * h * q * kn, 0, 1)
            var refScores = [Float](repeating: 0, count: b * h * q * kn), refCtx = [Float](repeating: 0, count: b * q * hd)
            glmk_attention_kv16_scores_ref(&refScores, query, q * qkvRow, qkvRow, keys, cap * hd, b, h, q, kn, d)
            glmk_attention_kv16_context_ref(&refCtx, probs, values, cap * hd, b, h, q, kn, d)
            var firstScores: [Float]?, firstCtx: [Float]?
            forEachCPULevel { level in
                for threads: Int32 in [1, 3] {
                    var scores = [Float](repeating: .nan, count: b * h * q * kn), ctx = [Float](repeating: .nan, count: b * q * hd)
                    withKernelThreads(threads) {
                        glmk_attention_kv16_scores(&scores, query, q * qkvRow, qkvRow, keys, cap * hd, b, h, q, kn, d)
                        glmk_attention_kv16_context(&ctx, probs, values, cap * hd, b, h, q, kn, d)
                    }
                    for (i, (u, v)) in zip(scores, refScores).enumerated() {
                        XCTAssertLessThanOrEqual(abs(u - v), 1e-5 * Float(d) + 1e-30, "scores \((b, h, q, kn, d)) level \(level) [\(i)]")
                    }
                    for (i, (u, v)) in zip(ctx, refCtx).enumerated() {
                        XCTAssertLessThanOrEqual(abs(u - v), 1e-5 * Float(kn) + 1e-30, "context \((b, h, q, kn, d)) level \(level) [\(i)]")
                    }
                    // The same bits for any thread count at one level (each output is one fixed-order sum).
                    if threads == 1 { firstScores = scores; firstCtx = ctx } else {
                        XCTAssertEqual(bits(scores), bits(firstScores!), "scores: threads change the bits")
                        XCTAssertEqual(bits(ctx), bits(firstCtx!), "context: threads change the bits")
                    }
                }
            }
            probs.removeAll()
        }
    }

    /// The op = float32 attention over the same keys and values widened to float32 (the only difference of
    /// a bf16 cache is the rounding when storing), with a mask that blocks some keys; queries as a column
    /// block of a fused QKV tensor.
    func testOpEqualsFloat32AttentionOnTheWidenedCache() throws {
        var rng = KernelRNG(seed: 5)
        let b = 2, heads = 4, hidden = 32, q = 3, k = 11, cap = 14
        let qkv = try Tensor(shape: [b, q, 3 * hidden], values: rng.floats(b * q * 3 * hidden))
        let keys32 = try Tensor(shape: [b, cap, hidden], values: rng.floats(b * cap * hidden))
        let values32 = try Tensor(shape: [b, cap, hidden], values: rng.floats(b * cap * hidden))
        let keys16 = keys32.toBFloat16(), values16 = values32.toBFloat16()
        var m = [Float](repeating: 1, count: b * q * k)
        for i in stride(from: 0, to: m.count, by: 5) { m[i] = 0 }
        let mask = try Tensor(shape: [b, 1, q, k], values: m)
        let tape = Tape.inference()
        let got = try tape.attentionBF16Cache(query: AttentionOperand(Variable(qkv), column: 0), keys: keys16, values: values16,
                                              heads: heads, hidden: hidden, queryLength: q, keyLength: k, mask: mask)
        let want = try tape.attention(query: AttentionOperand(Variable(qkv), column: 0),
                                      key: AttentionOperand(Variable(keys16.toFloat32())), value: AttentionOperand(Variable(values16.toFloat32())),
                                      heads: heads, hidden: hidden, queryLength: q, keyLength: k, mask: mask)
        XCTAssertEqual(got.shape, [b, q, hidden])
        let worst = zip(got.value.toFloats(), want.value.toFloats()).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst, 1e-5, "bf16-cache attention vs float32 attention on the same values")
        // And it is not the float32 cache's result: the rounding when storing is visible.
        let exact = try tape.attention(query: AttentionOperand(Variable(qkv), column: 0), key: AttentionOperand(Variable(keys32)),
                                       value: AttentionOperand(Variable(values32)), heads: heads, hidden: hidden,
                                       queryLength: q, keyLength: k, mask: mask)
        let rounding = zip(got.value.toFloats(), exact.value.toFloats()).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(rounding, 0)
        XCTAssertLessThan(rounding, 2e-2)
        print("bf16 K/V attention: vs float32 on the widened values \(worst), vs the unrounded float32 cache \(rounding)")
    }

    func testBadShapesAreClearErrors() throws {
        let tape = Tape.inference()
        let qkv = Tensor(zeros: [1, 1, 24]), keys = Tensor(zeros: [1, 4, 8], dtype: .bfloat16), f32 = Tensor(zeros: [1, 4, 8])
        let mask = Tensor(zeros: [1, 1, 1, 4])
        XCTAssertThrowsError(try tape.attentionBF16Cache(query: AttentionOperand(Variable(qkv)), keys: f32, values: keys, heads: 2,
                                                         hidden: 8, queryLength: 1, keyLength: 4, mask: mask)) {
            XCTAssertTrue("\($0)".contains("keys must be bfloat16"), "\($0)")
        }
        XCTAssertThrowsError(try tape.attentionBF16Cache(query: AttentionOperand(Variable(qkv)), keys: keys, values: keys, heads: 2,
                                                         hidden: 8, queryLength: 1, keyLength: 5, mask: mask))
        XCTAssertThrowsError(try tape.attentionBF16Cache(query: AttentionOperand(Variable(qkv)), keys: keys, values: keys, heads: 3,
                                                         hidden: 8, queryLength: 1, keyLength: 4, mask: mask))
    }
}
