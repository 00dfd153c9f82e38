// A read-mostly hash table from byte strings to Int32, probed with raw pointers so that vocabulary
// lookups in the hot loops never build a String.

@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ count: Int, seed: UInt64 = 0) -> UInt64 {
    // FNV-1a over 8-byte words, finished with a multiply-xorshift mix: fast on short keys.
    var h: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
    var i = 0
    while i + 8 <= count {
        let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
        h = (h ^ w) &* 0x100_0000_01b3
        h ^= h >> 29
        i += 8
    }
    var tail: UInt64 = 0
    var shift: UInt64 = 0
    while i < count {
        tail |= UInt64(p[i]) << shift
        shift += 8
        i += 1
    }
    h = (h ^ tail ^ UInt64(count)) &* 0x9E37_79B9_7F4A_7C15
    h ^= h >> 32
    return h
}

/// Open-addressing map `[UInt8] -> Int32`; keys live in one arena. Insert keeps the first value
/// unless `overwrite` is set (callers choose Python's "last wins" where the original does).
struct ByteStringTable: Sendable {
    private var arena: [UInt8] = []
    // Each slot: offset (32) | length (32) in `slots`, value in `values`, hash tag in `tags`.
    private var slots: [UInt64]
    private var values: [Int32]
    private var tags: [UInt32]
    private var mask: Int
    private(set) var count = 0
    /// Longest key in bytes (lets callers skip probes that cannot match).
    private(set) var maxKeyLength = 0

    init(capacity: Int = 16) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        slots = [UInt64](repeating: UInt64.max, count: n)
        values = [Int32](repeating: 0, count: n)
        tags = [UInt32](repeating: 0, count: n)
        mask = n - 1
    }

    private static func keyEquals(_ arena: UnsafeBufferPointer<UInt8>, _ slot: UInt64,
                                  _ p: UnsafePointer<UInt8>, _ count: Int) -> Bool {
        let len = Int(slot & 0xFFFF_FFFF)
        if len != count { return false }
        let off = Int(slot >> 32)
        if count == 0 { return true }
        return memcmp(arena.baseAddress! + off, p, count) == 0
    }

    /// Looks up `count` bytes at `p`.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ count: Int) -> Int32? {
        let h = hashBytes(p, count)
        let tag = UInt32(truncatingIfNeeded: h >> 32) | 1
        var i = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { s in
            tags.withUnsafeBufferPointer { t in
                arena.withUnsafeBufferPointer { a in
                    while true {
                        let slot = s[i]
                        if slot == UInt64.max { return nil }
                        if t[i] == tag && ByteStringTable.keyEquals(a, slot, p, count) { return values[i] }
                        i = (i + 1) & mask
                    }
                }
            }
        }
    }

    func lookup(_ bytes: [UInt8]) -> Int32? {
        bytes.withUnsafeBufferPointer { b in
            if b.count == 0 {
                var z: UInt8 = 0
                return withUnsafePointer(to: &z) { lookup($0, 0) }
            }
            return lookup(b.baseAddress!, b.count)
        }
    }

    func lookup(_ s: String) -> Int32? { lookup(Array(s.utf8)) }

    /// Inserts or (with `overwrite`) replaces; returns whether the key was new.
    @discardableResult
    mutating func insert(_ bytes: [UInt8], value: Int32, overwrite: Bool) -> Bool {
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let h: UInt64 = bytes.withUnsafeBufferPointer { b in
            var z: UInt8 = 0
            return b.count == 0 ? withUnsafePointer(to: &z) { hashBytes($0, 0) } : hashBytes(b.baseAddress!, b.count)
        }
        let tag = UInt32(truncatingIfNeeded: h >> 32) | 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let slot = slots[i]
            if slot == UInt64.max { break }
            if tags[i] == tag {
                let equal = arena.withUnsafeBufferPointer { a in
                    bytes.withUnsafeBufferPointer { b in
                        var z: UInt8 = 0
                        return b.count == 0
                            ? withUnsafePointer(to: &z) { ByteStringTable.keyEquals(a, slot, $0, 0) }
                            : ByteStringTable.keyEquals(a, slot, b.baseAddress!, b.count)
                    }
                }
                if equal {
                    if overwrite { values[i] = value }
                    return false
                }
            }
            i = (i + 1) & mask
        }
        slots[i] = (UInt64(arena.count) << 32) | UInt64(bytes.count)
        tags[i] = tag
        values[i] = value
        arena.append(contentsOf: bytes)
        count += 1
        maxKeyLength = max(maxKeyLength, bytes.count)
        return true
    }

    private mutating func grow() {
        let old = self
        var n = slots.count * 2
        if n < 16 { n = 16 }
        slots = [UInt64](repeating: UInt64.max, count: n)
        values = [Int32](repeating: 0, count: n)
        tags = [UInt32](repeating: 0, count: n)
        mask = n - 1
        arena = []
        count = 0
        maxKeyLength = 0
        for i in 0..<old.slots.count where old.slots[i] != UInt64.max {
            let off = Int(old.slots[i] >> 32), len = Int(old.slots[i] & 0xFFFF_FFFF)
            insert(Array(old.arena[off..<off + len]), value: old.values[i], overwrite: true)
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif canImport(Musl)
import Musl
#endif
