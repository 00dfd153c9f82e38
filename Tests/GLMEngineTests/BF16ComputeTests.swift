import XCTest
@testable import GLMEngine

/// bf16 mixed precision (`Tape.compute = .bfloat16`), op by op: the same op on a float32 tape and on a
/// bf16 tape from the same inputs and output gradient, compared element by element (normalized error:
/// max |a − r| / max |r|). Measured on this suite's shapes (2026-12-07, AMD EPYC with AVX512_BF16):
/// linear forward 1.3e-3, dX 2.3e-3, dW 2.7e-3 (db exact: fp32); attention forward 5.4e-3, dQKV 4.8e-3;
/// with dropout 3.0e-3 / 3.9e-3 — bf16's 8-bit mantissa rounds by ≤ 2⁻⁹ ≈ 2e-3 per operand. Tolerances
/// are 2–4× those. Each check also requires a nonzero difference,
/// so a bf16 tape that silently ran fp32 fails, and the linear is checked exactly (to fp32 accumulation
/// error) against float64 products of the bf16-rounded operands: that is the definition of the mode.
final class BF16ComputeTests: XCTestCase {
    /// float32 → bf16 → float32, round to nearest even (the rounding the engine uses).
    func rounded(_ t: Tensor) -> [Double] { doubles(t.toBFloat16().toFloat32()) }

    struct Run { var out: [Double]; var grads: [[Double]] }

    /// Runs `op` on a recording tape of the given compute type; all inputs require gradients.
    func run(_ compute: GEMMInputType, _ inputs: [Tensor], dy: Tensor, configure: (Tape) -> Void = { _ in },
             _ op: (Tape, [Variable]) throws -> Variable) throws -> Run {
        let tape = Tape(compute: compute)
        configure(tape)
        let vars = inputs.map { Variable($0.copy(), requiresGrad: true) }
        let out = try op(tape, vars)
        try tape.backward(from: out, gradient: dy)
        return Run(out: doubles(out.value), grads: vars.map { doubles($0.grad!) })
    }

    func compare(_ name: String, _ bf: [Double], _ fp: [Double], tol: Double) {
        let e = normalizedError(bf, fp)
        print(String(format: "bf16 vs fp32 %@: normalized error %.2e (tolerance %.0e)", name, e, tol))
        XCTAssert(e <= tol, "\(name): bf16 vs fp32 normalized error \(e) > \(tol)")
        XCTAssert(e > 1e-7, "\(name): bf16 result identical to fp32 — the bf16 path did not run")
    }

    func testLinearMatchesFP32AndIsExactOnRoundedOperands() throws {
        let m = 37, k = 96, n = 53
        let x = randn([m, k], seed: 1), w = randn([n, k], seed: 2, std: 0.1), b = randn([n], seed: 3)
        let dy = randn([m, n], seed: 4)
        let op: (Tape, [Variable]) throws -> Variable = { t, v in try t.linear(v[0], weight: v[1], bias: v[2]) }
        let fp = try run(.float32, [x, w, b], dy: dy, op)
        let bf = try run(.bfloat16, [x, w, b], dy: dy, op)
        compare("linear forward", bf.out, fp.out, tol: 5e-3)
        compare("linear dX", bf.grads[0], fp.grads[0], tol: 6e-3)
        compare("linear dW", bf.grads[1], fp.grads[1], tol: 6e-3)
        XCTAssertLessThanOrEqual(normalizedError(bf.grads[2], fp.grads[2]), 1e-6, "db stays fp32")
        // Exact semantics: float64 products of the bf16-rounded operands, fp32 bias and accumulation.
        let xr = rounded(x), wr = rounded(w), dyr = rounded(dy)
        assertClose(bf.out, Ref.matmul(xr, wr, m: m, n: n, k: k, transB: true, bias: doubles(b)), tol: 1e-6, "linear forward (rounded)")
        let (dx, dw) = Ref.matmulBackward(xr, wr, dyr, m: m, n: n, k: k, transB: true)
        assertClose(bf.grads[0], dx, tol: 1e-6, "linear dX (rounded)")
        assertClose(bf.grads[1], dw, tol: 1e-6, "linear dW (rounded)")
    }

    func testFusedAttentionByHeadsMatchesFP32() throws {
        let b = 2, s = 40, heads = 3, h = 48
        let qkv = randn([b, s, 3 * h], seed: 11)
        let mask = try AttentionMask.glm(seps: [17, 40], batch: b, queryLength: s)
        let dy = randn([b, s, h], seed: 12)
        let op: (Tape, [Variable]) throws -> Variable = { t, v in try t.attention(qkv: v[0], heads: heads, mask: mask) }
        let byHeads: (Tape) -> Void = { $0.attentionByHeadsMinQueries = 1 }
        let fp = try run(.float32, [qkv], dy: dy, configure: byHeads, op)
        let bf = try run(.bfloat16, [qkv], dy: dy, configure: byHeads, op)
        compare("attention forward", bf.out, fp.out, tol: 1.5e-2)
        compare("attention dQKV", bf.grads[0], fp.grads[0], tol: 2e-2)
    }

    func testAttentionByHeadsIsDeterministicAcrossThreads() throws {
        // The heads run concurrently, each with its own oneDNN products: a shared scratchpad would make
        // results vary from call to call (it did before the matmul primitives got per-thread scratchpads).
        let b = 2, s = 48, heads = 8, h = 128
        let qkv = Variable(randn([b, s, 3 * h], seed: 51))
        let mask = try AttentionMask.glm(seps: [20, 48], batch: b, queryLength: s)
        let tape = Tape(recording: false, compute: .bfloat16)
        tape.attentionByHeadsMinQueries = 1
        let first = try tape.attention(qkv: qkv, heads: heads, mask: mask).value.toFloats()
        for _ in 0..<6 { XCTAssertEqual(try tape.attention(qkv: qkv, heads: heads, mask: mask).value.toFloats(), first) }
    }

    func testAttentionWithDropoutKeepsMasksInBF16() throws {
        // Same dropout masks as fp32 (counter-based stream): the difference stays at rounding level.
        let b = 1, s = 24, heads = 2, h = 32
        let qkv = randn([b, s, 3 * h], seed: 21)
        let mask = try AttentionMask.glm(seps: [9], batch: b, queryLength: s)
        let dy = randn([b, s, h], seed: 22)
        let op: (Tape, [Variable]) throws -> Variable = { t, v in
            try t.attention(qkv: v[0], heads: heads, mask: mask, dropout: 0.25)
        }
        let cfg: (Tape) -> Void = { $0.attentionByHeadsMinQueries = 1; $0.dropoutSeed = 5 }
        let fp = try run(.float32, [qkv], dy: dy, configure: cfg, op)
        let bf = try run(.bfloat16, [qkv], dy: dy, configure: cfg, op)
        compare("attention+dropout forward", bf.out, fp.out, tol: 1.5e-2)
        compare("attention+dropout dQKV", bf.grads[0], fp.grads[0], tol: 2e-2)
    }

    func testWeightIsConvertedOncePerVersion() throws {
        let w = Parameter(name: "w", value: randn([16, 8], seed: 31))
        let x = Variable(randn([12, 8], seed: 32), requiresGrad: true)
        let tape = Tape(compute: .bfloat16)
        let y1 = try tape.linear(x, weight: w), y2 = try tape.linear(x, weight: w)
        try tape.backward(from: try tape.add(y1, y2), gradient: randn([12, 16], seed: 33))
        XCTAssertEqual(w.bf16CopyBuilds, 1, "forward ×2 and backward ×2 read one bf16 copy")
        w.markModified()  // what the optimizer does after a step
        _ = try Tape.inference().linear(x, weight: w)  // an fp32 tape does not touch the copy
        _ = try Tape(recording: false, compute: .bfloat16).linear(x, weight: w)
        XCTAssertEqual(w.bf16CopyBuilds, 2, "a new version is converted once more")
        XCTAssertEqual(doubles(w.bfloat16Value().toFloat32()), rounded(w.value))
    }

    func testRecomputationInheritsComputeType() throws {
        let w = Parameter(name: "w", value: randn([10, 6], seed: 41))
        let x = Variable(randn([5, 6], seed: 42), requiresGrad: true)
        let dy = randn([5, 10], seed: 43)
        func grads(_ compute: GEMMInputType, recompute: Bool) throws -> [Double] {
            let tape = Tape(compute: compute)
            let vx = Variable(x.value.copy(), requiresGrad: true)
            let y = recompute ? try tape.recompute("layer", inputs: [vx], parameters: [w]) { t, v in try t.linear(v[0], weight: w) }
                              : try tape.linear(vx, weight: w)
            try tape.backward(from: y, gradient: dy)
            return doubles(vx.grad!)
        }
        XCTAssertEqual(try grads(.bfloat16, recompute: true), try grads(.bfloat16, recompute: false))
        XCTAssertNotEqual(try grads(.bfloat16, recompute: true), try grads(.float32, recompute: false))
    }
}

/// `--dtype auto`'s probe: it measures both types and never picks bf16 without native bf16.
final class ComputeProbeTests: XCTestCase {
    func testProbeMeasuresBothTypesAndChoosesConsistently() throws {
        let p = try ComputeProbe.run(m: 64, k: 64, n: 96, rounds: 2)
        XCTAssertGreaterThan(p.fp32GFLOPS, 0); XCTAssertGreaterThan(p.bf16GFLOPS, 0)
        XCTAssertEqual(p.choice, p.nativeBF16 != 0 && p.bf16Speedup >= ComputeProbe.margin ? .bfloat16 : .float32)
        if p.nativeBF16 == 0 { XCTAssertEqual(p.choice, .float32) }
        XCTAssertTrue(p.summary.hasPrefix(p.choice.shortName + ":"), p.summary)
    }
}
