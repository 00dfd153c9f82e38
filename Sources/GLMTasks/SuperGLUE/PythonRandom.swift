/// Python's `random.Random(seed)` for the two operations the original's ReCoRD reader uses:
/// `getrandbits` and `shuffle`, bit for bit (MT19937 seeded by `init_by_array` with the seed's 32-bit
/// words, `shuffle` drawing `_randbelow(i + 1)` for i = n-1 … 1 by rejection sampling on `getrandbits`).
///
/// Why not a Swift generator: the candidates a ReCoRD training example keeps depend on the exact
/// sequence of draws of the original's `random.Random(42)` (one generator per file).
public struct PythonRandom: Sendable {
    private var mt = [UInt32](repeating: 0, count: 624)
    private var index = 624

    /// `random.Random(seed)` for a non-negative integer seed (Python uses `abs(seed)`).
    public init(seed: UInt64) {
        var key: [UInt32] = []
        var s = seed
        repeat { key.append(UInt32(truncatingIfNeeded: s)); s >>= 32 } while s != 0
        initByArray(key)
    }

    private mutating func initGenrand(_ s: UInt32) {
        mt[0] = s
        for i in 1..<624 {
            mt[i] = 1812433253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    private mutating func initByArray(_ key: [UInt32]) {
        initGenrand(19650218)
        var i = 1, j = 0
        for _ in 0..<max(624, key.count) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1664525)) &+ key[j] &+ UInt32(j)
            i += 1; j += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
            if j >= key.count { j = 0 }
        }
        for _ in 0..<623 {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) &* 1566083941)) &- UInt32(i)
            i += 1
            if i >= 624 { mt[0] = mt[623]; i = 1 }
        }
        mt[0] = 0x8000_0000
    }

    private mutating func twist() {
        for k in 0..<624 {
            let y = (mt[k] & 0x8000_0000) | (mt[(k + 1) % 624] & 0x7fff_ffff)
            mt[k] = mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_b0df : 0)
        }
        index = 0
    }

    /// One 32-bit output of MT19937 (`genrand_uint32`).
    public mutating func nextUInt32() -> UInt32 {
        if index >= 624 { twist() }
        var y = mt[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9d2c_5680
        y ^= (y << 15) & 0xefc6_0000
        y ^= y >> 18
        return y
    }

    /// `getrandbits(k)` for 1 ≤ k ≤ 32.
    public mutating func getrandbits(_ k: Int) -> UInt32 {
        precondition(k >= 1 && k <= 32, "getrandbits supports 1...32 bits here")
        return nextUInt32() >> UInt32(32 - k)
    }

    /// `_randbelow(n)` (n ≥ 1): `getrandbits(n.bit_length())` until below n.
    public mutating func randbelow(_ n: Int) -> Int {
        precondition(n >= 1 && n <= Int(UInt32.max))
        let k = Int.bitWidth - n.leadingZeroBitCount
        var r = Int(getrandbits(k))
        while r >= n { r = Int(getrandbits(k)) }
        return r
    }

    /// `shuffle(x)`.
    public mutating func shuffle<T>(_ x: inout [T]) {
        guard x.count > 1 else { return }
        for i in stride(from: x.count - 1, through: 1, by: -1) {
            let j = randbelow(i + 1)
            x.swapAt(i, j)
        }
    }
}
