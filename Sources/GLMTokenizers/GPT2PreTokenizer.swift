// The GPT-2 pre-tokenization pattern, hand-compiled:
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// evaluated as the `regex` module does (leftmost alternative wins, greedy runs, backtracking of
// `\s+(?!\S)` gives back the last whitespace before a non-space). `\s` is Unicode White_Space.

enum GPT2PreTokenizer {
    private enum Kind { case letter, number, space, other }

    @inline(__always)
    private static func kind(_ v: UInt32) -> Kind {
        if v < 0x80 {
            let b = UInt8(v)
            if (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) { return .letter }
            if b >= 0x30 && b <= 0x39 { return .number }
            if b == 0x20 || (b >= 0x09 && b <= 0x0D) { return .space }
            return .other
        }
        let c = scalarClass(v)
        if c.contains(.letter) { return .letter }
        if c.contains(.number) { return .number }
        if c.contains(.regexSpace) { return .space }
        return .other
    }

    /// End of the run of scalars of `k` starting at `i`.
    @inline(__always)
    private static func runEnd(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ k: Kind) -> Int {
        var j = i
        while j < p.count {
            let (v, len) = decodeScalar(p, j)
            if kind(v) != k { break }
            j += len
        }
        return j
    }

    /// Calls `body(start, end)` for every pre-token of `p`, in order.
    @inline(__always)
    static func forEachPiece(_ p: UnsafeBufferPointer<UInt8>, _ body: (Int, Int) -> Void) {
        let n = p.count
        var i = 0
        while i < n {
            let b = p[i]
            // Contractions.
            if b == 0x27 && i + 1 < n {
                let c1 = p[i + 1]
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 {  // s t m d
                    body(i, i + 2); i += 2; continue
                }
                if i + 2 < n {
                    let c2 = p[i + 2]
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {  // re ve ll
                        body(i, i + 3); i += 3; continue
                    }
                }
            }
            // ` ?X+` for X in letters, numbers, others (a leading space joins a following run).
            if b == 0x20 && i + 1 < n {
                let k2 = kind(decodeScalar(p, i + 1).value)
                if k2 != .space {
                    let end = runEnd(p, i + 1, k2)
                    body(i, end)
                    i = end
                    continue
                }
            }
            let k = kind(decodeScalar(p, i).value)
            if k != .space {
                let end = runEnd(p, i, k)
                body(i, end)
                i = end
                continue
            }
            // Whitespace: `\s+(?!\S)` then `\s+`.
            var last = i
            var j = i
            var count = 0
            while j < n {
                let (v, len) = decodeScalar(p, j)
                if kind(v) != .space { break }
                last = j
                j += len
                count += 1
            }
            if j == n || count == 1 {
                body(i, j)
                i = j
            } else {
                body(i, last)
                i = last
            }
        }
    }
}
