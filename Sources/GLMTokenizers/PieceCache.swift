// The pieces cache: the original GPT-2 tokenizer memoises `bpe(token)`; we memoise a pre-token's
// final ids the same way, in a bounded table that is reset when full so memory stays flat on
// adversarial input (10 MB of distinct words).
import Foundation

/// Bytes → ids memo for one thread at a time (see `PieceCachePool`).
final class PieceCache {
    private var keyArena: [UInt8] = []
    private var idArena: [Int32] = []
    // slot: key offset, key length, id offset, id length; `tags` holds the hash tag (0 = empty).
    private var keyOffsets: [UInt32]
    private var keyLengths: [UInt32]
    private var idOffsets: [UInt32]
    private var idLengths: [UInt32]
    private var tags: [UInt32]
    private var mask: Int
    private var count = 0
    let maxEntries: Int
    let maxArenaBytes: Int

    init(maxEntries: Int = 1 << 18, maxArenaBytes: Int = 32 << 20) {
        self.maxEntries = maxEntries
        self.maxArenaBytes = maxArenaBytes
        let n = 1 << 12
        keyOffsets = [UInt32](repeating: 0, count: n)
        keyLengths = [UInt32](repeating: 0, count: n)
        idOffsets = [UInt32](repeating: 0, count: n)
        idLengths = [UInt32](repeating: 0, count: n)
        tags = [UInt32](repeating: 0, count: n)
        mask = n - 1
    }

    /// Appends the cached ids of `p[0..<count]` to `out`; false when absent.
    @inline(__always)
    func appendCached(_ p: UnsafePointer<UInt8>, _ n: Int, to out: inout [Int]) -> Bool {
        let h = hashBytes(p, n)
        let tag = UInt32(truncatingIfNeeded: h >> 32) | 1
        var i = Int(truncatingIfNeeded: h) & mask
        while true {
            let t = tags[i]
            if t == 0 { return false }
            if t == tag && Int(keyLengths[i]) == n {
                let off = Int(keyOffsets[i])
                let same = keyArena.withUnsafeBufferPointer { memcmp($0.baseAddress! + off, p, n) == 0 }
                if same {
                    let io = Int(idOffsets[i]), il = Int(idLengths[i])
                    idArena.withUnsafeBufferPointer { ids in
                        for k in io..<io + il { out.append(Int(ids[k])) }
                    }
                    return true
                }
            }
            i = (i + 1) & mask
        }
    }

    /// Stores the ids of a pre-token (never called for keys already present).
    func store(_ p: UnsafePointer<UInt8>, _ n: Int, ids: ArraySlice<Int>) {
        if count >= maxEntries || keyArena.count + n > maxArenaBytes || idArena.count + ids.count > maxArenaBytes / 4 {
            reset()
        }
        if (count + 1) * 2 > tags.count { grow() }
        let h = hashBytes(p, n)
        let tag = UInt32(truncatingIfNeeded: h >> 32) | 1
        var i = Int(truncatingIfNeeded: h) & mask
        while tags[i] != 0 { i = (i + 1) & mask }
        tags[i] = tag
        keyOffsets[i] = UInt32(keyArena.count)
        keyLengths[i] = UInt32(n)
        idOffsets[i] = UInt32(idArena.count)
        idLengths[i] = UInt32(ids.count)
        keyArena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        for id in ids { idArena.append(Int32(truncatingIfNeeded: id)) }
        count += 1
    }

    private func reset() {
        keyArena.removeAll(keepingCapacity: true)
        idArena.removeAll(keepingCapacity: true)
        for i in 0..<tags.count { tags[i] = 0 }
        count = 0
    }

    private func grow() {
        let n = tags.count * 2
        let oldTags = tags, oldKO = keyOffsets, oldKL = keyLengths, oldIO = idOffsets, oldIL = idLengths
        keyOffsets = [UInt32](repeating: 0, count: n)
        keyLengths = [UInt32](repeating: 0, count: n)
        idOffsets = [UInt32](repeating: 0, count: n)
        idLengths = [UInt32](repeating: 0, count: n)
        tags = [UInt32](repeating: 0, count: n)
        mask = n - 1
        keyArena.withUnsafeBufferPointer { a in
            for j in 0..<oldTags.count where oldTags[j] != 0 {
                let h = hashBytes(a.baseAddress! + Int(oldKO[j]), Int(oldKL[j]))
                var i = Int(truncatingIfNeeded: h) & mask
                while tags[i] != 0 { i = (i + 1) & mask }
                tags[i] = oldTags[j]
                keyOffsets[i] = oldKO[j]
                keyLengths[i] = oldKL[j]
                idOffsets[i] = oldIO[j]
                idLengths[i] = oldIL[j]
            }
        }
    }
}

/// A small pool of caches so that concurrent encoders on one shared tokenizer each get their own
/// cache without holding a lock while they work (one lock round-trip per encode call).
final class PieceCachePool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [PieceCache] = []
    private let keep: Int

    init(keep: Int = 8) { self.keep = keep }

    func withCache<R>(_ body: (PieceCache) -> R) -> R {
        lock.lock()
        let cache = free.popLast() ?? PieceCache()
        lock.unlock()
        let result = body(cache)
        lock.lock()
        if free.count < keep { free.append(cache) }
        lock.unlock()
        return result
    }
}
