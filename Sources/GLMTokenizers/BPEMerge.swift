// The BPE merge loop of `tokenization_gpt2.py bpe()`: repeatedly take the adjacent pair with the
// lowest merge rank and merge ALL its occurrences left to right, until no pair has a rank.
// Symbols are interned integers; a pair table maps (left, right) → (rank, merged symbol).
//
// Short words (almost all) use the direct loop. Long words (a 10 MB run of letters is one pre-token)
// use a heap of (rank, position) with the same round semantics, so time stays O(n log n).

import GLMSupport

/// Open-addressing map from a symbol pair to (rank, merged symbol).
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var vals: [UInt64]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        keys = [UInt64](repeating: UInt64.max, count: n)
        vals = [UInt64](repeating: 0, count: n)
        mask = n - 1
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
    }

    /// Sets (rank, merged) for a pair; a later line for the same pair replaces it (Python dict).
    mutating func set(_ a: Int32, _ b: Int32, rank: UInt32, merged: Int32) {
        if (count + 1) * 2 > keys.count { grow() }
        let key = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        var i = PairTable.slot(key, mask)
        while keys[i] != UInt64.max && keys[i] != key { i = (i + 1) & mask }
        if keys[i] == UInt64.max { count += 1 }
        keys[i] = key
        vals[i] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    private mutating func grow() {
        let oldKeys = keys, oldVals = vals
        keys = [UInt64](repeating: UInt64.max, count: oldKeys.count * 2)
        vals = [UInt64](repeating: 0, count: oldKeys.count * 2)
        mask = keys.count - 1
        for j in 0..<oldKeys.count where oldKeys[j] != UInt64.max {
            var i = PairTable.slot(oldKeys[j], mask)
            while keys[i] != UInt64.max { i = (i + 1) & mask }
            keys[i] = oldKeys[j]
            vals[i] = oldVals[j]
        }
    }

    /// (rank << 32 | merged), or UInt64.max when the pair has no merge.
    @inline(__always)
    func get(_ a: Int32, _ b: Int32) -> UInt64 {
        let key = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
        return keys.withUnsafeBufferPointer { k in
            var i = PairTable.slot(key, mask)
            while true {
                let x = k[i]
                if x == key { return vals[i] }
                if x == UInt64.max { return UInt64.max }
                i = (i + 1) & mask
            }
        }
    }
}

enum BPEMerge {
    /// Words longer than this go through the heap.
    static let heapThreshold = 48

    /// Merges `syms` in place (their final symbols).
    static func merge(_ syms: inout [Int32], pairs: PairTable) {
        if syms.count < 2 { return }
        if syms.count > heapThreshold { mergeWithHeap(&syms, pairs: pairs) } else { mergeDirect(&syms, pairs: pairs) }
    }

    /// The original loop, with pair ranks looked up once per round.
    static func mergeDirect(_ syms: inout [Int32], pairs: PairTable) {
        var scratch: [Int32] = []
        scratch.reserveCapacity(syms.count)
        while syms.count > 1 {
            var best = UInt64.max
            var bestAt = -1
            for i in 0..<(syms.count - 1) {
                let v = pairs.get(syms[i], syms[i + 1])
                if v < best { best = v; bestAt = i }
            }
            if bestAt < 0 { return }
            let first = syms[bestAt], second = syms[bestAt + 1]
            let merged = Int32(truncatingIfNeeded: UInt32(best & 0xFFFF_FFFF))
            scratch.removeAll(keepingCapacity: true)
            var i = 0
            let n = syms.count
            while i < n {
                if i + 1 < n && syms[i] == first && syms[i + 1] == second {
                    scratch.append(merged)
                    i += 2
                } else {
                    scratch.append(syms[i])
                    i += 1
                }
            }
            swap(&syms, &scratch)
        }
    }

    /// Heap version: entries (rank << 32 | position). A round takes every entry of the current lowest
    /// rank in position order; pairs created during a round wait until it ends, as in the original,
    /// which only merges occurrences present in the word at the start of the round.
    static func mergeWithHeap(_ syms: inout [Int32], pairs: PairTable) {
        let n = syms.count
        var sym = syms
        var next = [Int32](repeating: -1, count: n)
        var prev = [Int32](repeating: -1, count: n)
        var alive = [Bool](repeating: true, count: n)
        for i in 0..<n {
            next[i] = i + 1 < n ? Int32(i + 1) : -1
            prev[i] = Int32(i - 1)
        }
        var heap = MinHeap<UInt64>()
        var pending: [UInt64] = []
        for i in 0..<(n - 1) {
            let v = pairs.get(sym[i], sym[i + 1])
            if v != UInt64.max { heap.push((v >> 32) << 32 | UInt64(i)) }
        }
        var currentRank = UInt64.max
        while true {
            guard let top = heap.peek() else {
                if pending.isEmpty { break }
                for e in pending { heap.push(e) }
                pending.removeAll(keepingCapacity: true)
                currentRank = UInt64.max
                continue
            }
            let rank = top >> 32
            if rank != currentRank && !pending.isEmpty {
                for e in pending { heap.push(e) }
                pending.removeAll(keepingCapacity: true)
                currentRank = UInt64.max
                continue
            }
            _ = heap.pop()
            currentRank = rank
            let pos = Int(top & 0xFFFF_FFFF)
            guard alive[pos] else { continue }
            let q = Int(next[pos])
            guard q >= 0 else { continue }
            let v = pairs.get(sym[pos], sym[q])
            guard v != UInt64.max, v >> 32 == rank else { continue }
            // Merge q into pos.
            sym[pos] = Int32(truncatingIfNeeded: UInt32(v & 0xFFFF_FFFF))
            alive[q] = false
            let after = next[q]
            next[pos] = after
            if after >= 0 { prev[Int(after)] = Int32(pos) }
            let before = Int(prev[pos])
            if before >= 0 {
                let w = pairs.get(sym[before], sym[pos])
                if w != UInt64.max { pending.append((w >> 32) << 32 | UInt64(before)) }
            }
            if after >= 0 {
                let w = pairs.get(sym[pos], sym[Int(after)])
                if w != UInt64.max { pending.append((w >> 32) << 32 | UInt64(pos)) }
            }
        }
        syms.removeAll(keepingCapacity: true)
        var i = 0
        while i >= 0 {
            syms.append(sym[i])
            i = Int(next[i])
        }
    }
}
