// SentencePiece's normaliser (normalizer.cc) for a model's NormalizerSpec: user-defined symbols pass
// through unchanged, everything else is rewritten by the precompiled charsmap (a double-array trie of
// the rule set, e.g. nmt_nfkc: NFKC plus control-character removal and whitespace folding), then
// leading/trailing/repeated spaces are removed, the dummy prefix added and spaces escaped as U+2581.
//
// We use the charsmap itself rather than Foundation's NFKC: it is exact by construction (it is the
// very table SentencePiece applies), while NFKC differs from nmt_nfkc (nmt_nfkc also maps control
// characters and several spaces, and its Unicode version is frozen in the file).

/// "▁" (U+2581) in UTF-8.
let spaceSymbolUTF8: [UInt8] = [0xE2, 0x96, 0x81]

struct SentencePieceNormalizer: Sendable {
    let addDummyPrefix: Bool
    let removeExtraWhitespaces: Bool
    let escapeWhitespaces: Bool
    let treatWhitespaceAsSuffix: Bool
    private let trie: DoubleArrayTrie?
    /// The charsmap's NUL-separated replacement strings.
    private let pool: [UInt8]
    /// Lead bytes at which the trie may match.
    private let trieLead: [Bool]
    /// User-defined symbols (never normalised), grouped by lead byte.
    private let userDefined: [[UInt8]]
    private let userLead: [Bool]

    init(spec: SentencePieceProto.NormalizerSpec, treatWhitespaceAsSuffix: Bool, userDefinedSymbols: [[UInt8]]) throws {
        addDummyPrefix = spec.addDummyPrefix
        removeExtraWhitespaces = spec.removeExtraWhitespaces
        escapeWhitespaces = spec.escapeWhitespaces
        self.treatWhitespaceAsSuffix = treatWhitespaceAsSuffix
        let blob = spec.precompiledCharsmap
        if blob.isEmpty {
            trie = nil
            pool = []
        } else {
            // <trie size: uint32 LE><double array units><normalized strings>
            guard blob.count > 4 else { throw SentencePieceProto.Malformed(reason: "charsmap blob too short") }
            let trieSize = Int(UInt32(blob[0]) | UInt32(blob[1]) << 8 | UInt32(blob[2]) << 16 | UInt32(blob[3]) << 24)
            guard trieSize < blob.count, trieSize % 4 == 0, 4 + trieSize <= blob.count else {
                throw SentencePieceProto.Malformed(reason: "charsmap trie size \(trieSize) exceeds the blob")
            }
            var units = [UInt32](repeating: 0, count: trieSize / 4)
            for k in 0..<units.count {
                let o = 4 + 4 * k
                units[k] = UInt32(blob[o]) | UInt32(blob[o + 1]) << 8 | UInt32(blob[o + 2]) << 16 | UInt32(blob[o + 3]) << 24
            }
            trie = DoubleArrayTrie(units: units)
            pool = Array(blob[(4 + trieSize)...])
        }
        var lead = [Bool](repeating: false, count: 256)
        if let t = trie { for b in 0..<256 { lead[b] = t.hasTransition(from: UInt8(b)) } }
        trieLead = lead
        userDefined = userDefinedSymbols.filter { !$0.isEmpty }
        var ul = [Bool](repeating: false, count: 256)
        for s in userDefined { ul[Int(s[0])] = true }
        userLead = ul
    }

    /// NormalizePrefix: (replacement bytes, bytes consumed) at `i`; the replacement is written to `out`.
    @inline(__always)
    private func prefix(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int, _ rep: inout ArraySlice<UInt8>) -> Int {
        let b = p[i]
        if userLead[Int(b)] {
            var best = 0
            for s in userDefined where s.count > best && s.count <= end - i {
                var same = true
                for k in 0..<s.count where p[i + k] != s[k] { same = false; break }
                if same { best = s.count }
            }
            if best > 0 {
                rep = ArraySlice(UnsafeBufferPointer(rebasing: p[i..<(i + best)]))
                return best
            }
        }
        if trieLead[Int(b)], let t = trie, let hit = t.longestPrefix(p, start: i, end: end) {
            var e = hit.value
            while e < pool.count && pool[e] != 0 { e += 1 }
            rep = hit.value <= e ? pool[hit.value..<e] : []
            return hit.length
        }
        let (v, len) = decodeScalar(p, i)
        if v == 0xFFFD && len == 1 {  // malformed UTF-8: U+FFFD, one byte consumed
            rep = [0xEF, 0xBF, 0xBD]
            return 1
        }
        rep = ArraySlice(UnsafeBufferPointer(rebasing: p[i..<(i + len)]))
        return len
    }

    /// Normalizes `p` (UTF-8) into `out` (cleared first).
    func normalize(_ p: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        let end = p.count
        if end == 0 { return }
        var i = 0
        var rep: ArraySlice<UInt8> = []
        if removeExtraWhitespaces {
            while i < end {
                let n = prefix(p, i, end, &rep)
                if !(rep.count == 1 && rep.first == 0x20) { break }
                i += n
            }
        }
        if i >= end { return }
        out.reserveCapacity((end - i) * 3 / 2 + 4)
        func addSpace(_ out: inout [UInt8]) {
            if escapeWhitespaces { out.append(contentsOf: spaceSymbolUTF8) } else { out.append(0x20) }
        }
        if !treatWhitespaceAsSuffix && addDummyPrefix { addSpace(&out) }
        var isPrevSpace = removeExtraWhitespaces
        while i < end {
            let b = p[i]
            // Fast path: a byte neither table can start with is copied as it is (ASCII letters etc.).
            if b < 0x80 && !trieLead[Int(b)] && !userLead[Int(b)] {
                if b == 0x20 {
                    if !isPrevSpace {
                        addSpace(&out)
                        isPrevSpace = removeExtraWhitespaces
                    }
                } else {
                    out.append(b)
                    isPrevSpace = false
                }
                i += 1
                if !removeExtraWhitespaces { isPrevSpace = false }
                continue
            }
            let n = prefix(p, i, end, &rep)
            var k = rep.startIndex
            if isPrevSpace { while k < rep.endIndex && rep[k] == 0x20 { k += 1 } }
            if k < rep.endIndex {
                for j in k..<rep.endIndex {
                    let c = rep[j]
                    if escapeWhitespaces && c == 0x20 { out.append(contentsOf: spaceSymbolUTF8) } else { out.append(c) }
                }
                isPrevSpace = rep[rep.endIndex - 1] == 0x20
            }
            i += n
            if !removeExtraWhitespaces { isPrevSpace = false }
        }
        if removeExtraWhitespaces {
            let space: [UInt8] = escapeWhitespaces ? spaceSymbolUTF8 : [0x20]
            while out.count >= space.count && Array(out[(out.count - space.count)...]) == space {
                out.removeLast(space.count)
            }
        }
        if treatWhitespaceAsSuffix && addDummyPrefix { addSpace(&out) }
    }
}
