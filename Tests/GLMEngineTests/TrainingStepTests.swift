import CGLMKernels
import XCTest
@testable import GLMEngine

/// A GLM-shaped training step built from the engine's ops: it must learn, and in steady state it must not
/// allocate tensor buffers (the pool serves every request).
final class TrainingStepTests: XCTestCase {
    struct TinyGLM {
        let h = 8, heads = 2, vocab = 13, seq = 6, batch = 2
        let emb, pos, ln1w, ln1b, qkvW, qkvB, denseW, denseB, ln2w, ln2b, upW, upB, downW, downB, lnfW, lnfB: Parameter

        init() {
            var seed: UInt64 = 100
            func p(_ name: String, _ shape: [Int], std: Float = 0.2, decay: Bool = true, ones: Bool = false) -> Parameter {
                seed += 1
                let t = randn(shape, seed: seed, std: std)
                if ones { for i in 0..<t.count { t.floats[i] += 1 } }
                return Parameter(name: name, value: t, weightDecay: decay)
            }
            emb = p("emb", [vocab, h]); pos = p("pos", [seq, h])
            ln1w = p("ln1.w", [h], std: 0.1, decay: false, ones: true); ln1b = p("ln1.b", [h], std: 0.1, decay: false)
            qkvW = p("qkv.w", [3 * h, h]); qkvB = p("qkv.b", [3 * h], decay: false)
            denseW = p("dense.w", [h, h]); denseB = p("dense.b", [h], decay: false)
            ln2w = p("ln2.w", [h], std: 0.1, decay: false, ones: true); ln2b = p("ln2.b", [h], std: 0.1, decay: false)
            upW = p("up.w", [4 * h, h]); upB = p("up.b", [4 * h], decay: false)
            downW = p("down.w", [h, 4 * h]); downB = p("down.b", [h], decay: false)
            lnfW = p("lnf.w", [h], std: 0.1, decay: false, ones: true); lnfB = p("lnf.b", [h], std: 0.1, decay: false)
        }

        var parameters: [Parameter] { [emb, pos, ln1w, ln1b, qkvW, qkvB, denseW, denseB, ln2w, ln2b, upW, upB, downW, downB, lnfW, lnfB] }

        func loss(_ tape: Tape, ids: Tensor, positions: Tensor, targets: Tensor, lossMask: Tensor, mask: Tensor) throws -> Variable {
            var x = try tape.embeddingSum([(ids, emb), (positions, pos)])
            x = try tape.dropout(x, p: 0.1)
            let a = try tape.layerNorm(x, weight: ln1w, bias: ln1b)
            let qkv = try tape.linear(a, weight: qkvW, bias: qkvB)
            let ctx = try tape.attention(qkv: qkv, heads: heads, mask: mask)
            x = try tape.add(x, try tape.dropout(try tape.linear(ctx, weight: denseW, bias: denseB), p: 0.1))
            let m = try tape.gelu(try tape.linear(try tape.layerNorm(x, weight: ln2w, bias: ln2b), weight: upW, bias: upB))
            x = try tape.add(x, try tape.linear(m, weight: downW, bias: downB))
            let logits = try tape.linear(try tape.layerNorm(x, weight: lnfW, bias: lnfB), weight: emb)
            return try tape.crossEntropy(logits, targets: targets, lossMask: lossMask).loss
        }
    }

    func testTrainingStepLearnsAndDoesNotAllocateInSteadyState() throws {
        let model = TinyGLM()
        let ids = try Tensor(shape: [2, 6], ints: [1, 5, 7, 2, 9, 3, 4, 4, 8, 12, 0, 6])
        let positions = try Tensor(shape: [2, 6], ints: [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5])
        let targets = try Tensor(shape: [2, 6], ints: [5, 7, 2, 9, 3, 1, 4, 8, 12, 0, 6, 2])
        let lossMask = try Tensor(shape: [2, 6], values: [0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1])
        let mask = try AttentionMask.glm(seps: [2, 1], batch: 2, queryLength: 6)
        let opt = AdamW(parameters: model.parameters, learningRate: 1e-2, weightDecay: 0.01)
        var losses: [Float] = []
        var allocations: [Int] = []
        for step in 0..<30 {
            let tape = Tape(dropoutSeed: UInt64(step))
            let loss = try model.loss(tape, ids: ids, positions: positions, targets: targets, lossMask: lossMask, mask: mask)
            losses.append(loss.value.scalarValue)
            try tape.backward(loss)
            let (norm, scale) = clipGradNorm(model.parameters, maxNorm: 1.0)
            XCTAssert(norm.isFinite)
            opt.step(gradScale: scale)
            opt.zeroGrad()
            allocations.append(BufferPool.shared.allocations)
        }
        XCTAssertLessThan(losses.last!, losses.first! * 0.5, "loss should fall: \(losses.first!) → \(losses.last!)")
        // Steady state: after the first steps warmed the pool, no new buffers (other tests may run before, never concurrently).
        XCTAssertEqual(allocations[29], allocations[2], "buffer allocations per step after warm-up: \(allocations)")
    }

    func testAdamWMatchesTorchFormulaInFloat64() throws {
        let p = Parameter(name: "w", value: randn([7], seed: 1)), b = Parameter(name: "b", value: randn([3], seed: 2), weightDecay: false)
        let opt = AdamW(parameters: [p, b], learningRate: 0.01, beta1: 0.9, beta2: 0.99, eps: 1e-6, weightDecay: 0.1)
        var pd = doubles(p.value) + doubles(b.value)
        var m = [Double](repeating: 0, count: 10), v = m
        for step in 1...3 {
            let g = randn([10], seed: UInt64(10 + step))
            try p.gradient.copy(from: try g.slice(0..<7)); try b.gradient.copy(from: try g.slice(7..<10))
            let scale: Float = step == 2 ? 0.5 : 1
            opt.step(gradScale: scale)
            let gd = doubles(g)
            for i in 0..<10 {
                let gi = gd[i] * Double(scale)
                if i < 7 { pd[i] *= 1 - 0.01 * 0.1 }
                m[i] = 0.9 * m[i] + 0.1 * gi
                v[i] = 0.99 * v[i] + 0.01 * gi * gi
                let bc1 = 1 - pow(0.9, Double(step)), bc2 = 1 - pow(0.99, Double(step))
                pd[i] -= 0.01 / bc1 * m[i] / (v[i].squareRoot() / bc2.squareRoot() + 1e-6)
            }
        }
        assertClose(doubles(p.value) + doubles(b.value), pd, tol: 1e-6, "AdamW vs float64 torch formula")
    }

    func testGradientNormClipping() throws {
        let a = Parameter(name: "a", value: Tensor(zeros: [3])), b = Parameter(name: "b", value: Tensor(zeros: [2]))
        try a.gradient.copy(from: try Tensor(shape: [3], values: [3, 0, 0]))
        try b.gradient.copy(from: try Tensor(shape: [2], values: [0, 4]))
        let (norm, scale) = clipGradNorm([a, b], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-12)
        XCTAssertEqual(Double(scale), 1 / (5 + 1e-6), accuracy: 1e-7)
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 10).scale, 1)
        scaleGradients([a, b], by: scale)
        XCTAssertEqual(gradientNorm([a, b]), 1, accuracy: 1e-6)
    }

    func testDropoutSameMaskForOneAndTwoThreads() throws {
        let x = Variable(randn([3, 1001], seed: 3))
        let saved = Runtime.threads
        defer { Runtime.setThreads(saved) }
        Runtime.setThreads(1)
        let y1 = try Tape(dropoutSeed: 77).dropout(x, p: 0.25).value.toFloats()
        Runtime.setThreads(2)
        let y2 = try Tape(dropoutSeed: 77).dropout(x, p: 0.25).value.toFloats()
        XCTAssertEqual(y1, y2)
    }
}
