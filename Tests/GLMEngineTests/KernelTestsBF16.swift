// bfloat16 conversion: round to nearest even (ties, carries into the exponent, overflow to Inf, denormals),
// NaN/Inf, at every CPU level (the AVX-512 bodies must give the scalar bits exactly).
import CGLMKernels
import XCTest

final class KernelTestsBF16: XCTestCase {
    /// Value of a bf16 pattern as a Double, treating exponent 255 as an ordinary exponent (so 0x7F80 = 2¹²⁸):
    /// the unbounded-exponent rounding target that IEEE round-to-nearest compares against before overflow.
    private func unboundedValue(_ h: UInt16) -> Double {
        let sign: Double = (h & 0x8000) != 0 ? -1 : 1
        let e = Int((h >> 7) & 0xFF), m = Double(h & 0x7F)
        return sign * (e == 0 ? m * 0x1p-133 : (1 + m / 128) * Double(sign: .plus, exponent: e - 127, significand: 1))
    }

    /// Independent reference: pick the nearer of the two bf16 neighbours by value (ties → even mantissa).
    private func referenceBF16(_ x: Float) -> UInt16 {
        if x.isNaN { return 0 } // checked separately
        if x.isInfinite { return x < 0 ? 0xFF80 : 0x7F80 }
        let lo = UInt16(x.bitPattern >> 16) // truncation toward zero
        let hi = lo &+ 1 // next magnitude (may be 0x7F80 = overflow to Inf)
        let dl = abs(Double(x) - unboundedValue(lo)), dh = abs(unboundedValue(hi) - Double(x))
        if dl < dh { return lo }
        if dh < dl { return hi }
        return (lo & 1) == 0 ? lo : hi
    }

    private func convert(_ patterns: [UInt32]) -> [UInt16] {
        let x = patterns.map { Float(bitPattern: $0) }
        var y = [UInt16](repeating: 0xDEAD, count: x.count + 1) // one guard element past the end
        glmk_f32_to_bf16(&y, x, x.count)
        XCTAssertEqual(y.last, 0xDEAD, "wrote past the end")
        return Array(y.dropLast())
    }

    func testNamedCases() {
        let cases: [(UInt32, UInt16, String)] = [
            (0x3F80_0000, 0x3F80, "1.0 exact"),
            (0x3F80_8000, 0x3F80, "tie, even below"),
            (0x3F81_8000, 0x3F82, "tie, odd below → up"),
            (0x3F80_8001, 0x3F81, "just above half"),
            (0x3F80_7FFF, 0x3F80, "just below half"),
            (0xBF81_8000, 0xBF82, "negative tie up"),
            (0x3FFF_8000, 0x4000, "carry into exponent"),
            (0x7F80_0000, 0x7F80, "+Inf"),
            (0xFF80_0000, 0xFF80, "-Inf"),
            (0x7F7F_FFFF, 0x7F80, "max finite float → Inf (RNE overflow)"),
            (0x7F7F_7FFF, 0x7F7F, "below half of the last bf16 ulp stays finite"),
            (0x7F7F_8000, 0x7F80, "tie at the top, odd → Inf"),
            (0xFF7F_FFFF, 0xFF80, "-max → -Inf"),
            (0x0000_0001, 0x0000, "smallest denormal → +0"),
            (0x0000_8000, 0x0000, "denormal tie to even 0"),
            (0x0001_8000, 0x0002, "denormal tie odd → up"),
            (0x0001_0000, 0x0001, "denormal exact"),
            (0x8000_8001, 0x8001, "negative denormal above half"),
            (0x007F_FFFF, 0x0080, "largest denormal rounds to smallest normal"),
            (0x8000_0000, 0x8000, "-0"),
        ]
        forEachCPULevel { level in
            let y = convert(cases.map(\.0))
            for (i, c) in cases.enumerated() {
                XCTAssertEqual(y[i], c.1, "level \(level): \(c.2): got 0x\(String(y[i], radix: 16))")
                XCTAssertEqual(y[i], referenceBF16(Float(bitPattern: c.0)), "reference disagrees: \(c.2)")
            }
        }
    }

    func testNaNStaysNaNAndKeepsSign() {
        let nans: [UInt32] = [0x7FC0_0000, 0x7F80_0001, 0x7F80_FFFF, 0xFF80_0001, 0xFFFF_FFFF, 0x7FFF_FFFF,
                              0x7F81_0000]
        forEachCPULevel { level in
            for (h, p) in zip(convert(nans), nans) {
                XCTAssertEqual(h & 0x7F80, 0x7F80, "level \(level) 0x\(String(p, radix: 16))")
                XCTAssertNotEqual(h & 0x7F, 0, "level \(level): NaN 0x\(String(p, radix: 16)) became Inf")
                XCTAssertEqual(h & 0x8000, UInt16(p >> 16) & 0x8000, "sign of NaN")
                XCTAssertTrue(Float(bitPattern: UInt32(h) << 16).isNaN)
            }
        }
    }

    /// Every bf16 high half with the low halves that decide rounding (0, 1, half−1, half, half+1, max),
    /// plus random patterns, against the value-based reference, at every level and every length tail.
    func testStructuredPatternsMatchReference() {
        var patterns: [UInt32] = []
        for hi in UInt32(0)...0xFFFF {
            for lo: UInt32 in [0, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF] where !Float(bitPattern: hi << 16 | lo).isNaN {
                patterns.append(hi << 16 | lo)
            }
        }
        var rng = KernelRNG(seed: 7)
        for _ in 0..<20000 {
            let p = UInt32(truncatingIfNeeded: rng.next())
            if !Float(bitPattern: p).isNaN { patterns.append(p) }
        }
        let expected = patterns.map { referenceBF16(Float(bitPattern: $0)) }
        forEachCPULevel { level in
            let y = convert(patterns)
            var bad = 0
            for i in y.indices where y[i] != expected[i] { bad += 1 }
            XCTAssertEqual(bad, 0, "level \(level): \(bad) of \(y.count) patterns differ from RNE")
            for n in [1, 3, 15, 17, 31, 33] { // tails: masked loads/stores
                XCTAssertEqual(convert(Array(patterns[5..<(5 + n)])), Array(expected[5..<(5 + n)]), "n=\(n)")
            }
        }
    }

    func testBF16ToF32IsExactAndRoundTrips() {
        let all = (0...0xFFFF).map { UInt16($0) }
        forEachCPULevel { level in
            var f = [Float](repeating: 0, count: all.count + 1)
            f[all.count] = 42
            glmk_bf16_to_f32(&f, all, all.count)
            XCTAssertEqual(f[all.count], 42, "wrote past the end")
            var back = [UInt16](repeating: 0, count: all.count)
            glmk_f32_to_bf16(&back, f, all.count)
            for h in all {
                XCTAssertEqual(f[Int(h)].bitPattern, UInt32(h) << 16, "level \(level)")
                let isNaN = (h & 0x7F80) == 0x7F80 && (h & 0x7F) != 0
                if isNaN { XCTAssertTrue(Float(bitPattern: UInt32(back[Int(h)]) << 16).isNaN) }
                else { XCTAssertEqual(back[Int(h)], h, "round trip of 0x\(String(h, radix: 16))") }
            }
        }
    }
}
