import Foundation

/// Python's `random.Random`: the MT19937 Mersenne Twister of CPython's `_randommodule.c` with the
/// methods of `Lib/random.py` the original's data code calls, bit for bit (CPython 3.x, integer seeds).
///
/// A value type: copying it copies the generator state. Only integer seeds are supported (`seed(int)`
/// hashes nothing: the absolute value is split into 32-bit words, least significant first, and fed to
/// `init_by_array`); `getrandbits` is limited to 64 bits.
public struct PythonRandom: Sendable, Equatable {
    private static let n = 624, m = 397
    private var state: [UInt32]
    private var index: Int

    /// `random.Random(seed)`.
    public init(seed: Int) {
        let magnitude = seed.magnitude
        var key: [UInt32] = [UInt32(truncatingIfNeeded: magnitude)]
        if magnitude >> 32 != 0 { key.append(UInt32(truncatingIfNeeded: magnitude >> 32)) }
        self.init(key: key)
    }

    /// `init_by_array(key)`: the seeding of an integer whose 32-bit words (least significant first) are `key`.
    public init(key: [UInt32]) {
        state = Array(repeating: 0, count: Self.n)
        index = Self.n
        let key = key.isEmpty ? [0] : key
        state[0] = 19_650_218
        for i in 1..<Self.n {
            let p = state[i - 1]
            state[i] = 1_812_433_253 &* (p ^ (p >> 30)) &+ UInt32(i)
        }
        var i = 1, j = 0
        for _ in 0..<max(Self.n, key.count) {
            let p = state[i - 1]
            state[i] = (state[i] ^ ((p ^ (p >> 30)) &* 1_664_525)) &+ key[j] &+ UInt32(j)
            i += 1; j += 1
            if i >= Self.n { state[0] = state[Self.n - 1]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<(Self.n - 1) {
            let p = state[i - 1]
            state[i] = (state[i] ^ ((p ^ (p >> 30)) &* 1_566_083_941)) &- UInt32(i)
            i += 1
            if i >= Self.n { state[0] = state[Self.n - 1]; i = 1 }
        }
        state[0] = 0x8000_0000
    }

    /// `genrand_uint32`: the next tempered 32-bit output.
    public mutating func nextUInt32() -> UInt32 {
        if index >= Self.n { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        let n = Self.n, m = Self.m
        for k in 0..<n {
            let y = (state[k] & 0x8000_0000) | (state[(k + 1) % n] & 0x7FFF_FFFF)
            var v = state[(k + m) % n] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_B0DF }
            state[k] = v
        }
        index = 0
    }

    /// `random()`: a double in [0, 1) with 53 random bits.
    public mutating func random() -> Double {
        let a = Double(nextUInt32() >> 5), b = Double(nextUInt32() >> 6)
        return (a * 67_108_864.0 + b) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// `getrandbits(k)` for 0 <= k <= 64: 32-bit words, least significant first; the last word keeps
    /// its top bits.
    public mutating func getrandbits(_ k: Int) -> UInt64 {
        precondition(k >= 0 && k <= 64, "getrandbits supports 0...64 bits")
        if k == 0 { return 0 }
        if k <= 32 { return UInt64(nextUInt32() >> UInt32(32 - k)) }
        let low = UInt64(nextUInt32())
        let high = UInt64(nextUInt32() >> UInt32(64 - k))
        return low | (high << 32)
    }

    /// `_randbelow(n)` (`_randbelow_with_getrandbits`): uniform in 0..<n by rejection; 0 when n is 0.
    public mutating func randbelow(_ n: Int) -> Int {
        precondition(n >= 0)
        if n == 0 { return 0 }
        let k = Int.bitWidth - n.leadingZeroBitCount  // n.bit_length()
        var r = getrandbits(k)
        while r >= UInt64(n) { r = getrandbits(k) }
        return Int(r)
    }

    /// `randrange(start, stop, step)`.
    public mutating func randrange(_ start: Int, _ stop: Int, step: Int = 1) -> Int {
        precondition(step != 0, "randrange: zero step")
        let width = stop - start
        if step == 1 {
            precondition(width > 0, "empty range for randrange(\(start), \(stop))")
            return start + randbelow(width)
        }
        let count = step > 0 ? (width + step - 1) / step : (width + step + 1) / step
        precondition(count > 0, "empty range for randrange(\(start), \(stop), \(step))")
        return start + step * randbelow(count)
    }

    /// `randrange(stop)`.
    public mutating func randrange(_ stop: Int) -> Int { randrange(0, stop) }

    /// `randint(a, b)`: a...b inclusive.
    public mutating func randint(_ a: Int, _ b: Int) -> Int { randrange(a, b + 1) }

    /// `choice(seq)`.
    public mutating func choice<C: RandomAccessCollection>(_ c: C) -> C.Element {
        precondition(!c.isEmpty, "cannot choose from an empty sequence")
        return c[c.index(c.startIndex, offsetBy: randbelow(c.count))]
    }

    /// `shuffle(x)`: Fisher-Yates from the end.
    public mutating func shuffle<T>(_ x: inout [T]) {
        guard x.count > 1 else { return }
        for i in stride(from: x.count - 1, through: 1, by: -1) {
            let j = randbelow(i + 1)
            x.swapAt(i, j)
        }
    }

    /// `sample(population, k)`: k distinct elements in selection order. Small populations are drawn
    /// from a shrinking pool, large ones by rejection against the set of chosen indices, with the
    /// original's threshold (`21 + 4 ** ceil(log(3k, 4))` for k > 5).
    public mutating func sample<C: RandomAccessCollection>(_ population: C, _ k: Int) -> [C.Element] {
        let n = population.count
        precondition(k >= 0 && k <= n, "sample larger than population or is negative")
        func at(_ i: Int) -> C.Element { population[population.index(population.startIndex, offsetBy: i)] }
        var setSize = 21
        if k > 5 {
            let e = (log(Double(k * 3)) / log(4.0)).rounded(.up)
            var p = 1
            for _ in 0..<Int(e) { p *= 4 }
            setSize += p
        }
        var result: [C.Element] = []
        result.reserveCapacity(k)
        if n <= setSize {
            var pool = Array(0..<n)
            for i in 0..<k {
                let j = randbelow(n - i)
                result.append(at(pool[j]))
                pool[j] = pool[n - i - 1]
            }
        } else {
            var selected = Set<Int>()
            for _ in 0..<k {
                var j = randbelow(n)
                while selected.contains(j) { j = randbelow(n) }
                selected.insert(j)
                result.append(at(j))
            }
        }
        return result
    }
}
