// Darts-clone's double-array trie, read-only: the format of SentencePiece's precompiled
// normalisation charsmap. commonPrefixSearch follows darts.h unit for unit, with bounds checks so a
// corrupt file yields "no match" instead of a crash.

struct DoubleArrayTrie: Sendable {
    let units: [UInt32]

    init(units: [UInt32]) { self.units = units }

    @inline(__always) private static func hasLeaf(_ u: UInt32) -> Bool { (u >> 8) & 1 == 1 }
    @inline(__always) private static func value(_ u: UInt32) -> Int { Int(u & ((1 << 31) - 1)) }
    @inline(__always) private static func label(_ u: UInt32) -> UInt32 { u & ((1 << 31) | 0xFF) }
    @inline(__always) private static func offset(_ u: UInt32) -> Int { Int((u >> 10) << ((u & (1 << 9)) >> 6)) }

    /// The longest key that prefixes `p[start..<end]`: (value, length in bytes), or nil.
    @inline(__always)
    func longestPrefix(_ p: UnsafeBufferPointer<UInt8>, start: Int, end: Int) -> (value: Int, length: Int)? {
        units.withUnsafeBufferPointer { a in
            guard !a.isEmpty else { return nil }
            var best: (Int, Int)? = nil
            var pos = DoubleArrayTrie.offset(a[0])
            var i = start
            while i < end {
                let c = Int(p[i])
                pos ^= c
                guard pos < a.count else { return best }
                let unit = a[pos]
                if DoubleArrayTrie.label(unit) != UInt32(c) { return best }
                pos ^= DoubleArrayTrie.offset(unit)
                guard pos < a.count else { return best }
                if DoubleArrayTrie.hasLeaf(unit) {
                    best = (DoubleArrayTrie.value(a[pos]), i + 1 - start)
                }
                i += 1
            }
            return best
        }
    }

    /// Whether any key starts with byte `b` (a cheap pre-check for the hot loop).
    func hasTransition(from b: UInt8) -> Bool {
        guard !units.isEmpty else { return false }
        let pos = DoubleArrayTrie.offset(units[0]) ^ Int(b)
        guard pos < units.count else { return false }
        return DoubleArrayTrie.label(units[pos]) == UInt32(b)
    }
}
