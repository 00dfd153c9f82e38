// Seeded, platform-independent random numbers for data construction.
//
// WHY our own generator: training must resume at any batch and give the same samples on every machine
// and Swift version, so nothing may depend on `SystemRandomNumberGenerator` or on library shuffles whose
// algorithm may change. Python's `random` is NOT reproduced bit for bit (not required); the helpers
// below mirror its *semantics* (`random()`, `randrange`, `randint`, `shuffle`, `choices`, `sample`) so
// the port of the original code reads the same.
import GLMEngine

/// xoshiro256** 1.0 (Blackman & Vigna 2018), seeded through SplitMix64 (Engine).
///
/// A generator is derived from `(seed, stream, index)`, so e.g. batch `k` of a run gets its own
/// independent generator and can be computed without computing batches `0..<k`.
public struct DataRandom: Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// Streams used by this module: one per kind of consumer, so they never share numbers.
    public enum Stream: UInt64, Sendable {
        case packedSample = 1   // which documents / which window make up sample k
        case batch = 2          // objective and spans of batch k
        case documentSplit = 3  // train/valid/test partition of documents
        case test = 99
    }

    public init(seed: UInt64) {
        var sm = SplitMix64(seed: seed)
        s0 = sm.next(); s1 = sm.next(); s2 = sm.next(); s3 = sm.next()
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }  // the all-zero state is the one invalid state
    }

    /// The generator for item `index` of `stream` under the run seed `seed`.
    public init(seed: UInt64, stream: Stream, index: UInt64) {
        var a = SplitMix64(seed: seed)
        var b = SplitMix64(seed: a.next() ^ stream.rawValue)
        self.init(seed: b.next() ^ index)
    }

    /// A raw state, for checking the generator against published xoshiro256** outputs.
    init(testState: (UInt64, UInt64, UInt64, UInt64)) {
        (s0, s1, s2, s3) = testState
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits, like Python's `random.random()`.
    public mutating func random() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in `0..<n` without modulo bias (Lemire's multiply-shift with rejection).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0, "DataRandom.below needs n > 0 (got \(n))")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Python `randrange(lower, upper)`: uniform in `lower..<upper`.
    public mutating func randrange(_ lower: Int, _ upper: Int) -> Int {
        precondition(upper > lower, "empty range \(lower)..<\(upper)")
        return lower + below(upper - lower)
    }

    /// Python `randint(lower, upper)`: uniform in `lower...upper` (both ends included).
    public mutating func randint(_ lower: Int, _ upper: Int) -> Int {
        randrange(lower, upper + 1)
    }

    /// Fisher–Yates from the back, the same walk as Python's `shuffle` (no draw for 0 or 1 element).
    public mutating func shuffle<T>(_ array: inout [T]) {
        var i = array.count - 1
        while i > 0 {
            let j = below(i + 1)
            array.swapAt(i, j)
            i -= 1
        }
    }

    /// Python `sample(population, k)`: `k` distinct elements in random order.
    public mutating func sample<T>(_ population: [T], _ k: Int) -> [T] {
        precondition(k >= 0 && k <= population.count, "sample of \(k) from \(population.count)")
        var pool = population
        var result: [T] = []
        result.reserveCapacity(k)
        for i in 0..<k {
            let j = i + below(pool.count - i)
            pool.swapAt(i, j)
            result.append(pool[i])
        }
        return result
    }
}

/// A discrete distribution over `values` with the given weights, sampled like Python's
/// `random.choices(values, weights)[0]`: one uniform draw, bisect into the cumulative weights.
public struct WeightedChoice: Sendable, Equatable {
    public let values: [Int]
    public let cumulative: [Double]

    public init(values: [Int], weights: [Double]) {
        precondition(values.count == weights.count && !values.isEmpty, "weights must match values")
        self.values = values
        var acc = 0.0
        cumulative = weights.map { acc += $0; return acc }
        precondition(acc > 0, "weights must not all be zero")
    }

    public func draw(_ rng: inout DataRandom) -> Int {
        let total = cumulative[cumulative.count - 1]
        let x = rng.random() * total
        // bisect_right: first index whose cumulative weight is > x.
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return values[lo]
    }
}
