// Dropout on Philox-4x32-10: the RNG against Random123's known-answer vectors, the documented keep rule,
// same output for 1 and 2 threads and every level, keep rate ≈ 1 − p, backward regenerates the mask,
// offsets select the same stream, p = 0 copies and p = 1 zeros.
import CGLMKernels
import XCTest

final class KernelTestsDropout: XCTestCase {
    func testPhiloxKnownAnswers() {
        // Random123 kat_vectors, philox4x32 with 10 rounds.
        let cases: [([UInt32], [UInt32], [UInt32])] = [
            ([0, 0, 0, 0], [0, 0], [0x6627_E8D5, 0xE169_C58D, 0xBC57_AC4C, 0x9B00_DBD8]),
            ([~0, ~0, ~0, ~0], [~0, ~0], [0x408F_276D, 0x41C8_3B0E, 0xA20B_C7C6, 0x6D54_51FD]),
            ([0x243F_6A88, 0x85A3_08D3, 0x1319_8A2E, 0x0370_7344], [0xA409_3822, 0x299F_31D0],
             [0xD16C_FE09, 0x94FD_CCEB, 0x5001_E420, 0x2412_6EA1]),
        ]
        for (ctr, key, expected) in cases {
            var out = [UInt32](repeating: 0, count: 4)
            glmk_philox4x32_10(&out, ctr, key)
            XCTAssertEqual(out, expected)
        }
    }

    /// The spec, written out in Swift on top of the RNG: keep_j ⇔ (word >> 8)·2⁻²⁴ ≥ p.
    private func specKeep(seed: UInt64, index j: UInt64, p: Float) -> Bool {
        let block = j / 4
        var out = [UInt32](repeating: 0, count: 4)
        glmk_philox4x32_10(&out, [UInt32(truncatingIfNeeded: block), UInt32(truncatingIfNeeded: block >> 32), 0, 0],
                           [UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32)])
        return Float(out[Int(j % 4)] >> 8) * 0x1p-24 >= p
    }

    func testOutputFollowsTheSpecAtEveryLevelAndOffset() {
        let seed: UInt64 = 0x1234_5678_9ABC_DEF0, p: Float = 0.3, scale = 1 / (1 - p)
        let x = randomFloats(seed: 60, 300, 0.5, 2)
        forEachCPULevel { level in
            // The last three cross from counter word 0 into word 1 (block 2³²) inside a vector group.
            for offset: UInt64 in [0, 1, 3, 5, 64, 0xFFFF_FFFF * 4 + 2, 0xFFFF_FFF8 * 4, 0xFFFF_FFFC * 4 + 1] {
                for n in [1, 3, 17, 63, 64, 65, 129, 300] {
                    var y = [Float](repeating: 0, count: n + 1)
                    y[n] = 8
                    glmk_dropout_forward(&y, x, n, p, seed, offset)
                    XCTAssertEqual(y[n], 8, "wrote past the end")
                    var bad = 0
                    for i in 0..<n {
                        let expected = specKeep(seed: seed, index: offset + UInt64(i), p: p) ? x[i] * scale : 0
                        if y[i] != expected { bad += 1 }
                    }
                    XCTAssertEqual(bad, 0, "L\(level) offset \(offset) n \(n)")
                }
            }
        }
    }

    func testSameOutputForOneAndTwoThreadsAndKeepRate() {
        let n = 200_003, x = [Float](repeating: 1, count: n)
        for p: Float in [0.1, 0.5, 0.9] {
            var outputs: [[UInt32]] = []
            forEachCPULevel { _ in
                for threads: Int32 in [1, 2] {
                    var y = [Float](repeating: 0, count: n)
                    withKernelThreads(threads) { glmk_dropout_forward(&y, x, n, p, 42, 7) }
                    outputs.append(bits(y))
                }
            }
            XCTAssertTrue(outputs.allSatisfy { $0 == outputs[0] }, "p \(p): levels/threads disagree")
            let kept = outputs[0].filter { $0 != 0 }.count
            let rate = Double(kept) / Double(n), q = Double(1 - p), sigma = (q * (1 - q) / Double(n)).squareRoot()
            XCTAssertEqual(rate, q, accuracy: 5 * sigma, "keep rate for p = \(p)")
            XCTAssertTrue(outputs[0].allSatisfy { $0 == 0 || Float(bitPattern: $0) == 1 / (1 - p) }, "scale")
        }
    }

    func testBackwardRegeneratesTheMask() {
        var rng = KernelRNG(seed: 61)
        let n = 1001, x = rng.floats(n), dy = rng.floats(n), p: Float = 0.25
        forEachCPULevel { level in
            var y = [Float](repeating: 0, count: n), ones = y, dx = y
            glmk_dropout_forward(&y, x, n, p, 9, 100)
            glmk_dropout_forward(&ones, [Float](repeating: 1, count: n), n, p, 9, 100)
            glmk_dropout_backward(&dx, dy, n, p, 9, 100)
            XCTAssertEqual(dx, zip(dy, ones).map { $0 * $1 }, "L\(level)")
            XCTAssertEqual(y.map { $0 == 0 }, ones.map { $0 == 0 } , "same mask")
            var inPlace = dy
            inPlace.withUnsafeMutableBufferPointer { glmk_dropout_backward($0.baseAddress, $0.baseAddress, n, p, 9, 100) }
            XCTAssertEqual(inPlace, dx, "aliased")
            // A different seed gives a different mask.
            var other = y
            glmk_dropout_forward(&other, x, n, p, 10, 100)
            XCTAssertNotEqual(other, y)
        }
    }

    func testProbabilityZeroCopiesAndOneZeros() {
        let x = randomFloats(seed: 62, 37)
        forEachCPULevel { level in
            var y = [Float](repeating: 5, count: 37)
            glmk_dropout_forward(&y, x, 37, 0, 1, 0)
            XCTAssertEqual(y, x, "p = 0 L\(level)")
            glmk_dropout_forward(&y, x, 37, 1, 1, 0)
            XCTAssertEqual(bits(y), [UInt32](repeating: 0, count: 37), "p = 1 L\(level)")
            var inPlace = x
            inPlace.withUnsafeMutableBufferPointer { glmk_dropout_forward($0.baseAddress, $0.baseAddress, 37, 0, 1, 0) }
            XCTAssertEqual(inPlace, x)
        }
    }
}
