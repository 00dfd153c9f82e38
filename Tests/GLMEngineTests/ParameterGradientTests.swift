import XCTest
@testable import GLMEngine

/// `Parameter.zeroGrad()` only marks the gradient as zero (no memset); the first backward contribution
/// then writes instead of adding. Every reader must still see exactly the gradients of an eager zeroing.
final class ParameterGradientTests: XCTestCase {
    /// A parameter whose gradient buffer holds garbage from an earlier step, then zeroGrad().
    func staleParameter(_ value: Tensor, name: String) -> Parameter {
        let p = Parameter(name: name, value: value.copy())
        p.gradient.fill(123)
        p.zeroGrad()
        return p
    }

    /// Loss Σ dy·(x·Wᵀ + b) + Σ dy2·embedding(ids, E), backpropagated `passes` times into W, b and E.
    func gradients(w: Parameter, b: Parameter, e: Parameter, passes: Int) throws -> [[Float]] {
        for pass in 0..<passes {
            let tape = Tape()
            let x = Variable(randn([5, 4], seed: 10 + UInt64(pass)))
            let y = try tape.linear(x, weight: w, bias: b)
            try tape.backward(from: y, gradient: randn([5, 3], seed: 20 + UInt64(pass)))
            let t2 = Tape()
            let ids = try Tensor(shape: [3], ints: [1, 1, 4])
            let z = try t2.embedding(ids, table: e)
            try t2.backward(from: z, gradient: randn([3, 2], seed: 30 + UInt64(pass)))
        }
        return [w.gradient.toFloats(), b.gradient.toFloats(), e.gradient.toFloats()]
    }

    func testPendingZeroGivesTheSameGradientsAsEagerZeroing() throws {
        let wv = randn([3, 4], seed: 1), bv = randn([3], seed: 2), ev = randn([6, 2], seed: 3)
        for passes in [1, 2] {  // 2: gradient accumulation over micro-batches must add after the first write
            let eager = try gradients(w: Parameter(name: "w", value: wv.copy()), b: Parameter(name: "b", value: bv.copy()),
                                      e: Parameter(name: "e", value: ev.copy()), passes: passes)
            let lazy = try gradients(w: staleParameter(wv, name: "w"), b: staleParameter(bv, name: "b"),
                                     e: staleParameter(ev, name: "e"), passes: passes)
            for (l, r) in zip(lazy, eager) { assertClose(l.asDouble, r.asDouble, tol: 1e-6, "\(passes) pass(es)") }
            // Rows 0, 2, 3, 5 of E get no gradient: they must read zero, not the stale 123.
            XCTAssertEqual(lazy[2][0], 0); XCTAssertEqual(lazy[2][11], 0)
        }
    }

    func testReadersSeeZerosWhenNothingWasWritten() {
        let p = staleParameter(randn([4], seed: 5), name: "p")
        XCTAssertEqual(p.grad?.toFloats(), [0, 0, 0, 0])
        let q = staleParameter(randn([4], seed: 5), name: "q")
        XCTAssertEqual(p.gradient.toFloats(), q.gradient.toFloats())
        XCTAssertEqual(gradientNorm([staleParameter(randn([8], seed: 6), name: "r")]), 0)
    }

    /// AdamW on a parameter that received no gradient since zeroGrad() must use g = 0 (decay only).
    func testAdamWUsesZeroForAPendingGradient() {
        let v = randn([16], seed: 7)
        let stale = Parameter(name: "stale", value: v.copy()), fresh = Parameter(name: "fresh", value: v.copy())
        let a = AdamW(parameters: [stale], learningRate: 0.1, weightDecay: 0.5)
        let b = AdamW(parameters: [fresh], learningRate: 0.1, weightDecay: 0.5)
        stale.gradient.fill(123)  // a previous step's gradient, after the optimizer took its pointers
        stale.zeroGrad()
        a.step(); b.step()
        XCTAssertEqual(stale.value.toFloats(), fresh.value.toFloats())
        XCTAssertNotEqual(stale.value.toFloats(), v.toFloats(), "weight decay must still apply")
    }
}
