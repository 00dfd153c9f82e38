// The fused AdamW step against torch.optim.AdamW's update written out in Swift float64, over several steps
// and tensors (odd sizes, a weight-decay mask, grad_scale), every level, 1 vs 2 threads, the naive twin.
import CGLMKernels
import XCTest

/// torch.optim.AdamW (amsgrad = False, maximize = False) for one tensor, in float64.
struct AdamW64 {
    var p: [Double], m: [Double], v: [Double]
    mutating func step(grad: [Float], lr: Double, beta1: Double, beta2: Double, eps: Double, wd: Double,
                       gradScale: Double, step t: Int) {
        let bc1 = 1 - pow(beta1, Double(t)), bc2 = 1 - pow(beta2, Double(t))
        let stepSize = lr / bc1, bc2Sqrt = bc2.squareRoot()
        for i in p.indices {
            let g = Double(grad[i]) * gradScale
            p[i] *= 1 - lr * wd                       // param.mul_(1 - lr * weight_decay)
            m[i] += (g - m[i]) * (1 - beta1)          // exp_avg.lerp_(grad, 1 - beta1)
            v[i] = v[i] * beta2 + (1 - beta2) * g * g // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
            let denom = v[i].squareRoot() / bc2Sqrt + eps
            p[i] -= stepSize * m[i] / denom           // param.addcdiv_(exp_avg, denom, value=-step_size)
        }
    }
}

final class KernelTestsAdamW: XCTestCase {
    let sizes = [1, 7, 33, 1000, 17, 4099]
    let decay: [Float] = [0.01, 0, 0.1, 0.01, 0, 0.05]

    /// Runs `steps` fused steps from a fixed start; returns (params, m, v) per tensor.
    private func runFused(steps: Int, grads: [[[Float]]], ref: Bool = false) -> [[Float]] {
        var rng = KernelRNG(seed: 70)
        let params = sizes.map { n -> UnsafeMutablePointer<Float> in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            for i in 0..<n { p[i] = Float(rng.uniform(-1, 1)) }
            return p
        }
        func zeros(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        let ms = sizes.map(zeros), vs = sizes.map(zeros)
        defer { for p in params + ms + vs { p.deallocate() } }
        for s in 0..<steps {
            let gp = grads[s].map { g in UnsafePointer<Float>(UnsafeMutablePointer<Float>.allocate(capacity: g.count)) }
            for (t, g) in grads[s].enumerated() { UnsafeMutablePointer(mutating: gp[t]).update(from: g, count: g.count) }
            defer { for g in gp { g.deallocate() } }
            let optionalParams = params.map { Optional($0) }, om = ms.map { Optional($0) }, ov = vs.map { Optional($0) }
            let og = gp.map { Optional($0) }
            if ref {
                glmk_adamw_step_ref(sizes.count, optionalParams, og, om, ov, sizes, decay, 1e-3, 0.9, 0.999, 1e-8, 0.5,
                                    Int64(s + 1))
            } else {
                glmk_adamw_step(sizes.count, optionalParams, og, om, ov, sizes, decay, 1e-3, 0.9, 0.999, 1e-8, 0.5,
                                Int64(s + 1))
            }
        }
        return sizes.indices.flatMap { t in
            [Array(UnsafeBufferPointer(start: params[t], count: sizes[t])),
             Array(UnsafeBufferPointer(start: ms[t], count: sizes[t])),
             Array(UnsafeBufferPointer(start: vs[t], count: sizes[t]))]
        }
    }

    private func makeGrads(steps: Int) -> [[[Float]]] {
        var rng = KernelRNG(seed: 71)
        return (0..<steps).map { _ in sizes.map { rng.floats($0, -2, 2) } }
    }

    func testMatchesTorchFormulasInFloat64() {
        let steps = 5, grads = makeGrads(steps: steps)
        var rng = KernelRNG(seed: 70)
        var refs = sizes.map { n in
            AdamW64(p: (0..<n).map { _ in Double(Float(rng.uniform(-1, 1))) }, m: .init(repeating: 0, count: n),
                    v: .init(repeating: 0, count: n))
        }
        for s in 0..<steps {
            for t in sizes.indices {
                // The kernel receives float hyperparameters: 0.999 as a float is 0.99900001287, so 1 − β2 differs
                // from Python's double 0.001 by 1.3e-5 relative. Compare against the values the API can carry.
                refs[t].step(grad: grads[s][t], lr: Double(Float(1e-3)), beta1: Double(Float(0.9)),
                             beta2: Double(Float(0.999)), eps: Double(Float(1e-8)), wd: Double(decay[t]),
                             gradScale: 0.5, step: s + 1)
            }
        }
        forEachCPULevel { level in
            let got = runFused(steps: steps, grads: grads)
            for t in sizes.indices {
                // Parameters move by ~lr per step: 1e-6 absolute is ~0.1 % of the 5 updates.
                assertClose(got[3 * t], refs[t].p, atol: 1e-6, rtol: 1e-6, "param \(t) L\(level)")
                assertClose(got[3 * t + 1], refs[t].m, atol: 1e-7, rtol: 1e-5, "exp_avg \(t) L\(level)")
                assertClose(got[3 * t + 2], refs[t].v, atol: 1e-9, rtol: 1e-5, "exp_avg_sq \(t) L\(level)")
            }
        }
        let naive = runFused(steps: steps, grads: grads, ref: true)
        for t in sizes.indices { assertClose(naive[3 * t], refs[t].p, atol: 1e-6, rtol: 1e-6, "naive twin param \(t)") }
    }

    func testIdenticalForOneAndTwoThreads() {
        let grads = makeGrads(steps: 2)
        forEachCPULevel { level in
            let one = withKernelThreads(1) { runFused(steps: 2, grads: grads) }
            let two = withKernelThreads(2) { runFused(steps: 2, grads: grads) }
            XCTAssertEqual(one.map(bits), two.map(bits), "L\(level)")
        }
    }
}
