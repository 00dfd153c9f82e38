// Shared helpers of the C-kernel tests: reproducible data, running a check at every CPU level and thread
// count, tolerance comparisons that report the measured error, and a float64 central-difference gradcheck.
import CGLMKernels
import XCTest

/// SplitMix64: small, fast, reproducible across platforms (test data must not depend on the host RNG).
struct KernelRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(next() >> 11) * 0x1p-53
    }
    mutating func floats(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float] {
        (0..<n).map { _ in Float(uniform(lo, hi)) }
    }
    mutating func int(_ below: Int) -> Int { Int(next() % UInt64(below)) }
}

/// The highest level this CPU (and GLM_CPU_LEVEL) allows.
func kernelHardwareLevel() -> Int32 {
    glmk_force_cpu_level(-1)
    return glmk_cpu_level()
}

/// Runs `body` once per CPU level from scalar up to the hardware level, each with the kernels forced to it.
func forEachCPULevel(_ body: (Int32) throws -> Void) rethrows {
    let top = kernelHardwareLevel()
    defer { glmk_force_cpu_level(-1) }
    for level in 0...top {
        glmk_force_cpu_level(level)
        XCTAssertEqual(glmk_cpu_level(), level)
        try body(level)
    }
}

/// Runs `body` with `n` kernel threads and with every kernel split over the threads however small its input.
func withKernelThreads<T>(_ n: Int32, _ body: () throws -> T) rethrows -> T {
    let oldThreads = glmk_num_threads()
    let oldMin = glmk_set_parallel_min_work(0)
    glmk_set_num_threads(n)
    defer {
        glmk_set_num_threads(oldThreads)
        _ = glmk_set_parallel_min_work(oldMin)
    }
    return try body()
}

/// Bit patterns, for "identical" comparisons that also treat equal NaNs as equal.
func bits(_ a: [Float]) -> [UInt32] { a.map(\.bitPattern) }

/// The measured worst error of `actual` against `expected`, and whether it is within atol + rtol·|expected|.
struct ErrorReport: CustomStringConvertible {
    var maxAbs = 0.0, maxRel = 0.0, worstRatio = 0.0, worstIndex = -1
    var description: String {
        String(format: "max abs err %.3g, max rel err %.3g (worst at %d, %.2f of tolerance)", maxAbs, maxRel,
               worstIndex, worstRatio)
    }
}

func measureError(_ actual: [Float], _ expected: [Double], atol: Double, rtol: Double) -> ErrorReport {
    var r = ErrorReport()
    precondition(actual.count == expected.count, "length mismatch")
    for i in actual.indices {
        let a = Double(actual[i]), e = expected[i]
        let err = (a.isNaN || e.isNaN) ? (a.isNaN && e.isNaN ? 0 : .infinity) : (a == e ? 0 : abs(a - e))
        let ratio = err / (atol + rtol * abs(e))
        r.maxAbs = max(r.maxAbs, err)
        if e != 0 { r.maxRel = max(r.maxRel, err / abs(e)) }
        if ratio > r.worstRatio || r.worstIndex < 0 { r.worstRatio = ratio; r.worstIndex = i }
    }
    if r.worstIndex < 0 { r.worstRatio = 0 }
    return r
}

/// Asserts |actual − expected| ≤ atol + rtol·|expected| everywhere; the message carries the measured error.
@discardableResult
func assertClose(_ actual: [Float], _ expected: [Double], atol: Double, rtol: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) -> ErrorReport {
    let r = measureError(actual, expected, atol: atol, rtol: rtol)
    XCTAssertLessThanOrEqual(r.worstRatio, 1.0, "\(what): \(r)", file: file, line: line)
    return r
}

func assertClose(_ actual: [Float], _ expected: [Float], atol: Double, rtol: Double, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    assertClose(actual, expected.map(Double.init), atol: atol, rtol: rtol, what, file: file, line: line)
}

/// Central-difference gradcheck in float64: for loss(x), compares `analytic` (∂loss/∂x) to
/// (loss(x + h·eᵢ) − loss(x − h·eᵢ)) / 2h at every i. Returns the worst relative error, which the caller bounds.
func gradcheck(_ x: [Double], analytic: [Double], h: Double = 1e-6, loss: ([Double]) -> Double) -> Double {
    var worst = 0.0
    var xp = x
    for i in x.indices {
        xp[i] = x[i] + h
        let up = loss(xp)
        xp[i] = x[i] - h
        let down = loss(xp)
        xp[i] = x[i]
        let fd = (up - down) / (2 * h)
        worst = max(worst, abs(fd - analytic[i]) / max(1e-3, abs(fd), abs(analytic[i])))
    }
    return worst
}

/// Σ y·r: the scalar loss whose gradient wrt y is r (turns a vector function into a gradcheck target).
func dot(_ y: [Double], _ r: [Double]) -> Double {
    var s = 0.0
    for i in y.indices { s += y[i] * r[i] }
    return s
}

extension Array where Element == Float {
    var asDouble: [Double] { map(Double.init) }
}

/// n uniform floats in [lo, hi) from a fresh generator with `seed`.
func randomFloats(seed: UInt64, _ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float] {
    var rng = KernelRNG(seed: seed)
    return rng.floats(n, lo, hi)
}
