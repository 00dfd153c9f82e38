// bf16 weights in their plain [out, in] layout (memory-mapped decoding): the product against its float64
// twin at every CPU level and thread count (same bits for any thread count), and `PlainBF16Linear` as
// installed inference weights of an inference-only Parameter through Tape.linear.
import CGLMKernels
import XCTest
@testable import GLMEngine

final class KernelTestsLinearBF16Plain: XCTestCase {
    func bf16(_ x: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: x.count)
        glmk_f32_to_bf16(&out, x, x.count)
        return out
    }

    func testForwardMatchesTwinAtEveryLevel() {
        var rng = KernelRNG(seed: 21)
        var worstRatio = 0.0
        let cases = KernelTestsLinearInt8.shapes.map { (m, n, k) in
            (m, n, k, rng.floats(m * k, -2, 2), bf16(rng.floats(n * k)), rng.floats(n))
        }
        forEachCPULevel { level in
            for (m, n, k, x, w, bias) in cases {
                for withBias in [true, false] {
                    var yRef = [Float](repeating: 0, count: m * n)
                    glmk_linear_bf16w_forward_ref(&yRef, x, w, withBias ? bias : nil, m, n, k)
                    var outs: [[Float]] = []
                    for threads: Int32 in [1, 3] {
                        var y = [Float](repeating: .nan, count: m * n + 1)
                        y[m * n] = 42
                        withKernelThreads(threads) { glmk_linear_bf16w_forward(&y, x, w, withBias ? bias : nil, m, n, k) }
                        XCTAssertEqual(y[m * n], 42, "wrote past y, L\(level) \(m)x\(n)x\(k)")
                        outs.append(Array(y[0..<(m * n)]))
                    }
                    XCTAssertEqual(bits(outs[0]), bits(outs[1]), "thread count changed bits, L\(level) \(m)x\(n)x\(k)")
                    for i in 0..<m { for j in 0..<n {
                        var absSum = 0.0
                        for p in 0..<k { absSum += abs(Double(x[i * k + p]) * Double(Float(bitPattern: UInt32(w[j * k + p]) << 16))) }
                        let mag = absSum + (withBias ? abs(Double(bias[j])) : 0)
                        let ratio = abs(Double(outs[0][i * n + j]) - Double(yRef[i * n + j])) / (1e-5 * mag + 1e-30)
                        worstRatio = max(worstRatio, ratio)
                        XCTAssertLessThanOrEqual(ratio, 1, "L\(level) \(m)x\(n)x\(k) [\(i), \(j)]")
                    } }
                }
            }
        }
        print("bf16w forward vs float64 twin: worst error = \(worstRatio) of 1e-5·(Σ|x·w| + |b|)")
    }

    /// An inference-only parameter (no float32 values) decodes through its installed bf16 weights like a
    /// float32 parameter holding the widened values; a gradient through it is refused by name.
    func testInferenceOnlyParameterUsesInstalledWeightsAndRefusesGradients() throws {
        var rng = KernelRNG(seed: 5)
        let n = 24, k = 40
        let w = bf16(rng.floats(n * k))
        let widened = w.map { Float(bitPattern: UInt32($0) << 16) }
        let dense = Parameter(name: "dense", value: try Tensor(shape: [n, k], values: widened))
        let bias = Parameter(name: "bias", value: try Tensor(shape: [n], values: rng.floats(n)))
        let holder = WeightsHolder(w)
        let mapped = try Parameter.inferenceOnly(name: "mapped.weight", shape: [n, k])
        XCTAssertFalse(mapped.holdsValues)
        try mapped.installInferenceWeights(try PlainBF16Linear(weights: holder.pointer, bias: bias.value.floats, outFeatures: n,
                                                               inFeatures: k, owner: holder), storage: .bfloat16, bias: bias)
        for rows in [1, 3, 20] {
            let x = Variable(try Tensor(shape: [rows, k], values: rng.floats(rows * k)))
            let y = try Tape.inference().linear(x, weight: mapped, bias: bias).value.toFloats()
            let yRef = try Tape.inference().linear(x, weight: dense, bias: bias).value.toFloats()
            for (a, b) in zip(y, yRef) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
        }
        let x = Variable(try Tensor(shape: [2, k], values: rng.floats(2 * k)), requiresGrad: true)
        XCTAssertThrowsError(try Tape().linear(x, weight: mapped, bias: bias)) { e in
            XCTAssertTrue("\(e)".contains("mapped.weight") && "\(e)".contains("cannot be trained"), "\(e)")
        }
    }
}

/// Owns bf16 weights for a test (stands in for a mapped file).
private final class WeightsHolder {
    let pointer: UnsafeMutableRawPointer
    init(_ w: [UInt16]) {
        pointer = UnsafeMutableRawPointer.allocate(byteCount: w.count * 2, alignment: 64)
        w.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
    deinit { pointer.deallocate() }
}
