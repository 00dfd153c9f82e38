import XCTest
@testable import GLMEngine

/// Attention-probability dropout inside the fused attention op: deterministic per (seed, offset),
/// identity when not training, and its backward matches central finite differences (the same mask is
/// used for every evaluation because each runs on a fresh tape with the same dropout seed).
final class AttentionDropoutTests: XCTestCase {
    let b = 2, s = 5, heads = 2, h = 6

    func loss(_ qkv: Tensor, _ weights: [Float], mask: Tensor, p: Float, training: Bool) throws -> Float {
        let tape = Tape(recording: true, training: training, dropoutSeed: 77)
        let out = try tape.attention(qkv: Variable(qkv), heads: heads, mask: mask, dropout: p)
        let o = out.value.toFloats()
        var l: Double = 0
        for i in o.indices { l += Double(o[i] * weights[i]) }
        return Float(l)
    }

    func testDropoutIsDeterministicAndIdentityInEval() throws {
        let mask = try AttentionMask.glm(seps: [2, 5], batch: b, queryLength: s)
        let qkv = Tensor.randomNormal([b, s, 3 * h], seed: 5)
        let w = Tensor.randomNormal([b, s, h], seed: 6).toFloats()
        let noDrop = try loss(qkv, w, mask: mask, p: 0, training: true)
        XCTAssertEqual(try loss(qkv, w, mask: mask, p: 0.4, training: false), noDrop, "eval mode must ignore dropout")
        let a = try loss(qkv, w, mask: mask, p: 0.4, training: true)
        XCTAssertEqual(try loss(qkv, w, mask: mask, p: 0.4, training: true), a, "same seed, same result")
        XCTAssertNotEqual(a, noDrop, "dropout 0.4 must change the output")
    }

    func testDropoutBackwardMatchesFiniteDifferences() throws {
        let mask = try AttentionMask.glm(seps: [2, 0], batch: b, queryLength: s)
        let qkv = Tensor.randomNormal([b, s, 3 * h], seed: 8)
        let w = Tensor.randomNormal([b, s, h], seed: 9)
        let p: Float = 0.3
        let tape = Tape(recording: true, training: true, dropoutSeed: 77)
        let x = Variable(qkv.copy(), requiresGrad: true)
        let out = try tape.attention(qkv: x, heads: heads, mask: mask, dropout: p)
        try tape.backward(from: out, gradient: w)
        let analytic = x.grad!.toFloats()
        let wf = w.toFloats()
        var worst: Float = 0
        let eps: Float = 1e-2
        for i in 0..<qkv.count {
            let plus = qkv.copy(), minus = qkv.copy()
            plus.floats[i] += eps; minus.floats[i] -= eps
            let numeric = (try loss(plus, wf, mask: mask, p: p, training: true)
                           - loss(minus, wf, mask: mask, p: p, training: true)) / (2 * eps)
            worst = max(worst, abs(numeric - analytic[i]) / max(1, abs(analytic[i])))
        }
        XCTAssertLessThan(worst, 5e-3, "attention dropout backward vs finite differences")
        print("[gradcheck] attention with dropout 0.3: worst scaled error \(worst)")
    }
}
