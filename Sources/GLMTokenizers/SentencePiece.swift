// SentencePiece (google/sentencepiece 0.2.x semantics) from a `.model` file: normalisation by the
// model's NormalizerSpec, then the segmentation its model type names — BPE (bpe_model.cc: merge the
// adjacent pair whose merged piece has the highest score, leftmost first) or unigram (the optimised
// Viterbi of unigram_model.cc) — then unknown runs merged into one <unk> (or byte fallback).
// Decoding follows SentencePieceProcessor::Decode (▁ → space, leading ▁ of the first pieces
// consumed, <unk> → " ⁇ ", control pieces invisible).
import Foundation
import GLMSupport

struct SentencePieceModel: Sendable {
    let path: String
    let pieces: [[UInt8]]
    let scores: [Float]
    let types: [SentencePieceProto.PieceType]
    let modelType: SentencePieceProto.ModelType
    let unkId: Int
    private let pieceIds: ByteStringTable      // NORMAL, USER_DEFINED, UNUSED
    private let reservedIds: ByteStringTable   // CONTROL, UNKNOWN, BYTE
    private let normalizer: SentencePieceNormalizer
    private let denormalizer: SentencePieceNormalizer?
    private let addDummyPrefix: Bool
    private let removeExtraWhitespaces: Bool
    private let byteFallback: Bool
    private let byteIds: [Int]
    private let unkSurface: [UInt8]
    private let userDefined: [[UInt8]]
    private let userLead: [Bool]
    private let hasUnused: Bool

    // BPE: symbols are piece ids, plus ids >= pieces.count for characters that only occur inside pieces.
    private let asciiSymbol: [Int32]
    private let charSymbols: ByteStringTable
    private let pairs: PairTable
    /// Words (runs starting at ▁) can be segmented independently: no piece has ▁ after its start.
    private let wordsAreIndependent: Bool
    private let cachePool = PieceCachePool()

    // Unigram.
    private let trie: ByteTrie
    private let minScore: Float
    private let maxScore: Float

    var count: Int { pieces.count }

    init(modelFile url: URL) throws {
        path = url.path
        let proto: SentencePieceProto
        do {
            proto = try SentencePieceProto(bytes: try TextFiles.readBytes(url))
        } catch let e as SentencePieceProto.Malformed {
            throw TokenizerError.malformedFile(path: url.path, reason: e.reason)
        }
        guard !proto.pieces.isEmpty else { throw TokenizerError.malformedFile(path: url.path, reason: "no pieces") }
        pieces = proto.pieces.map { $0.piece }
        scores = proto.pieces.map { $0.score }
        types = proto.pieces.map { $0.type }
        modelType = proto.modelType
        guard modelType == .bpe || modelType == .unigram else {
            throw TokenizerError.malformedFile(path: url.path, reason: "model type \(modelType) is not supported (only BPE and unigram)")
        }
        var pieceIds = ByteStringTable(capacity: pieces.count)
        var reservedIds = ByteStringTable(capacity: 64)
        var unk = -1
        var user: [[UInt8]] = []
        var minScore = Float.greatestFiniteMagnitude
        var maxScore = Float.leastNormalMagnitude  // FLT_MIN, as the original initialises it
        for (i, p) in proto.pieces.enumerated() {
            guard !p.piece.isEmpty else { throw TokenizerError.malformedFile(path: url.path, reason: "piece \(i) is empty") }
            let normal = p.type == .normal || p.type == .userDefined || p.type == .unused
            let inserted = normal ? pieceIds.insert(p.piece, value: Int32(i), overwrite: false)
                : reservedIds.insert(p.piece, value: Int32(i), overwrite: false)
            guard inserted else {
                throw TokenizerError.malformedFile(path: url.path, reason: "piece \(stringFromUTF8(p.piece)) is defined twice")
            }
            if p.type == .userDefined { user.append(p.piece) }
            if p.type == .unknown {
                guard unk < 0 else { throw TokenizerError.malformedFile(path: url.path, reason: "unk is defined twice") }
                unk = i
            }
            if p.type == .normal {
                minScore = min(minScore, p.score)
                maxScore = max(maxScore, p.score)
            }
        }
        guard unk >= 0 else { throw TokenizerError.malformedFile(path: url.path, reason: "unk is not defined") }
        unkId = unk
        self.pieceIds = pieceIds
        self.reservedIds = reservedIds
        self.minScore = minScore
        self.maxScore = maxScore
        userDefined = user
        var ul = [Bool](repeating: false, count: 256)
        for s in user { ul[Int(s[0])] = true }
        userLead = ul
        hasUnused = types.contains(.unused)
        addDummyPrefix = proto.normalizer.addDummyPrefix
        removeExtraWhitespaces = proto.normalizer.removeExtraWhitespaces
        byteFallback = proto.byteFallback
        unkSurface = proto.unkSurface
        do {
            normalizer = try SentencePieceNormalizer(spec: proto.normalizer, treatWhitespaceAsSuffix: proto.treatWhitespaceAsSuffix,
                                                     userDefinedSymbols: user)
            if let d = proto.denormalizer, !d.precompiledCharsmap.isEmpty {
                denormalizer = try SentencePieceNormalizer(spec: d, treatWhitespaceAsSuffix: false, userDefinedSymbols: [])
            } else {
                denormalizer = nil
            }
        } catch let e as SentencePieceProto.Malformed {
            throw TokenizerError.malformedFile(path: url.path, reason: e.reason)
        }
        var byteIds = [Int](repeating: unk, count: 256)
        if byteFallback {
            for b in 0..<256 {
                let name = Array(String(format: "<0x%02X>", b).utf8)
                byteIds[b] = Int(reservedIds.lookup(name) ?? pieceIds.lookup(name) ?? Int32(unk))
            }
        }
        self.byteIds = byteIds

        // BPE symbol tables: every piece, and every character occurring inside a piece.
        var charSymbols = ByteStringTable(capacity: 8192)
        var nextSymbol = Int32(pieces.count)
        var independent = true
        for (i, piece) in pieces.enumerated() where types[i] == .normal || types[i] == .userDefined || types[i] == .unused {
            var k = 0
            while k < piece.count {
                let len = min(utf8SequenceLength(piece[k]), piece.count - k)
                let ch = Array(piece[k..<(k + len)])
                if ch == spaceSymbolUTF8 && (k > 0 || types[i] == .userDefined) { independent = false }
                if pieceIds.lookup(ch) == nil && charSymbols.lookup(ch) == nil {
                    charSymbols.insert(ch, value: nextSymbol, overwrite: false)
                    nextSymbol += 1
                }
                k += len
            }
        }
        func symbol(of bytes: ArraySlice<UInt8>) -> Int32? {
            let a = Array(bytes)
            if let id = pieceIds.lookup(a) { return id }
            return charSymbols.lookup(a)
        }
        var pairs = PairTable(capacity: pieces.count * 2)
        if modelType == .bpe {
            for (i, piece) in pieces.enumerated() where types[i] == .normal || types[i] == .userDefined || types[i] == .unused {
                var k = utf8SequenceLength(piece[0])
                while k < piece.count {
                    if let a = symbol(of: piece[..<k]), let b = symbol(of: piece[k...]) {
                        pairs.set(a, b, rank: 0, merged: Int32(i))
                    }
                    k += utf8SequenceLength(piece[k])
                }
            }
        }
        var ascii = [Int32](repeating: -1, count: 128)
        for b in 0..<128 { ascii[b] = symbol(of: [UInt8(b)][...]) ?? -1 }
        asciiSymbol = ascii
        self.charSymbols = charSymbols
        self.pairs = pairs
        wordsAreIndependent = independent && !hasUnused

        var trie = ByteTrie()
        if modelType == .unigram {
            for (i, piece) in pieces.enumerated() where types[i] == .normal || types[i] == .userDefined || types[i] == .unused {
                if pieceIds.lookup(piece) == Int32(i) { trie.insert(piece, value: Int32(i)) }
            }
        }
        self.trie = trie
    }

    // MARK: - Ids and pieces

    /// `PieceToId`: reserved pieces first, then normal ones, else unk.
    func pieceToId(_ piece: [UInt8]) -> Int {
        if let r = reservedIds.lookup(piece) { return Int(r) }
        if let n = pieceIds.lookup(piece) { return Int(n) }
        return unkId
    }

    /// The id if the string is a piece of the model (nil rather than unk for unknown strings).
    func exactPieceId(_ piece: [UInt8]) -> Int? {
        if let r = reservedIds.lookup(piece) { return Int(r) }
        if let n = pieceIds.lookup(piece) { return Int(n) }
        return nil
    }

    func idToPiece(_ id: Int) -> String? {
        guard id >= 0 && id < pieces.count else { return nil }
        return stringFromUTF8(pieces[id])
    }

    // MARK: - Encoding

    /// `sp.EncodeAsIds(text)`, appended to `out`.
    func encode(_ p: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        var normalized: [UInt8] = []
        normalizer.normalize(p, into: &normalized)
        if normalized.isEmpty { return }
        normalized.withUnsafeBufferPointer { n in
            if modelType == .unigram {
                emit(unigramSegments(n), n, into: &out, previousWasUnknown: false)
            } else if wordsAreIndependent {
                cachePool.withCache { cache in
                    var start = 0
                    var i = 0
                    var previousUnknown = false
                    func flush(_ e: Int) {
                        if e <= start { return }
                        let base = n.baseAddress! + start
                        let before = out.count
                        if cache.appendCached(base, e - start, to: &out) {
                            // A cached word starting with <unk> glues onto a preceding <unk>.
                            if previousUnknown && !byteFallback && out[before] == unkId { out.remove(at: before) }
                        } else {
                            var wordIds: [Int] = []
                            emit(bpeSegments(n, start, e), n, into: &wordIds, previousWasUnknown: false)
                            if e - start <= 256 { cache.store(base, e - start, ids: wordIds[...]) }
                            if previousUnknown && !byteFallback && wordIds.first == unkId { wordIds.removeFirst() }
                            out.append(contentsOf: wordIds)
                        }
                        previousUnknown = out.count > before ? types[out[out.count - 1]] == .unknown : previousUnknown
                        start = e
                    }
                    while i < n.count {
                        if i + 2 < n.count && n[i] == 0xE2 && n[i + 1] == 0x96 && n[i + 2] == 0x81 { flush(i) }
                        i += utf8SequenceLength(n[i])
                    }
                    flush(n.count)
                }
            } else {
                emit(bpeSegments(n, 0, n.count), n, into: &out, previousWasUnknown: false)
            }
        }
    }

    /// PopulateSentencePieceText's id output: unknown runs merged (or spelled as bytes).
    private func emit(_ segments: [(start: Int, end: Int, id: Int)], _ n: UnsafeBufferPointer<UInt8>,
                      into out: inout [Int], previousWasUnknown: Bool) {
        var prevUnk = previousWasUnknown
        for s in segments {
            let isUnk = types[s.id] == .unknown
            if isUnk && byteFallback {
                for k in s.start..<s.end { out.append(byteIds[Int(n[k])]) }
            } else if !(isUnk && prevUnk) {
                out.append(s.id)
            }
            prevUnk = isUnk
        }
    }

    /// bpe_model.cc SampleEncode (alpha 0) on `n[from..<to]`: (byte range, id) of each final piece.
    private func bpeSegments(_ n: UnsafeBufferPointer<UInt8>, _ from: Int, _ to: Int) -> [(start: Int, end: Int, id: Int)] {
        var sym: [Int32] = []
        var starts: [Int] = []
        var ends: [Int] = []
        var frozen: [Bool] = []
        var i = from
        while i < to {
            var len = 0
            var s: Int32 = -1
            var freeze = false
            if userLead[Int(n[i])] {
                for u in userDefined where u.count > len && u.count <= to - i {
                    var same = true
                    for k in 0..<u.count where n[i + k] != u[k] { same = false; break }
                    if same { len = u.count }
                }
                if len > 0 {
                    freeze = true
                    s = pieceIds.lookup(n.baseAddress! + i, len) ?? -1
                }
            }
            if len == 0 {
                len = min(utf8SequenceLength(n[i]), to - i)
                if len == 1 && n[i] < 0x80 {
                    s = asciiSymbol[Int(n[i])]
                } else {
                    s = pieceIds.lookup(n.baseAddress! + i, len) ?? charSymbols.lookup(n.baseAddress! + i, len) ?? -1
                }
            }
            sym.append(s)
            starts.append(i)
            ends.append(i + len)
            frozen.append(freeze)
            i += len
        }
        let count = sym.count
        if count == 0 { return [] }
        var next = [Int](repeating: -1, count: count)
        var prev = [Int](repeating: -1, count: count)
        for k in 0..<count {
            next[k] = k + 1 < count ? k + 1 : -1
            prev[k] = k - 1
        }
        var alive = [Bool](repeating: true, count: count)
        var heap = MinHeap<KeyedPayload>()
        var revMerge: [Int32: (Int32, Int32)] = [:]

        func ordered(_ f: Float) -> UInt32 {
            let b = (f + 0).bitPattern  // -0.0 + 0 == +0.0: equal scores must compare equal
            return b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
        }
        func maybeAdd(_ l: Int, _ r: Int) {
            if l < 0 || r < 0 || frozen[l] || frozen[r] { return }
            let a = sym[l], b = sym[r]
            if a < 0 || b < 0 { return }
            let v = pairs.get(a, b)
            if v == UInt64.max { return }
            let merged = Int32(truncatingIfNeeded: UInt32(v & 0xFFFF_FFFF))
            let key = UInt64(~ordered(scores[Int(merged)])) << 32 | UInt64(l)
            heap.push(KeyedPayload(key: key, payload: UInt64(r) << 32 | UInt64(ends[r] - starts[l])))
            if types[Int(merged)] == .unused { revMerge[merged] = (a, b) }
        }
        for k in 1..<count { maybeAdd(k - 1, k) }
        while let top = heap.pop() {
            let key = top.key, payload = top.payload
            let l = Int(key & 0xFFFF_FFFF)
            let r = Int(payload >> 32)
            let size = Int(payload & 0xFFFF_FFFF)
            guard alive[l], alive[r], (ends[l] - starts[l]) + (ends[r] - starts[r]) == size else { continue }
            let v = pairs.get(sym[l], sym[r])
            guard v != UInt64.max else { continue }
            sym[l] = Int32(truncatingIfNeeded: UInt32(v & 0xFFFF_FFFF))
            ends[l] = ends[r]
            next[l] = next[r]
            if next[r] >= 0 { prev[next[r]] = l }
            alive[r] = false
            maybeAdd(prev[l], l)
            maybeAdd(l, next[l])
        }
        var result: [(start: Int, end: Int, id: Int)] = []
        func resegment(_ s: Int32, _ start: Int, _ end: Int) {
            if s >= 0 && Int(s) < pieces.count && types[Int(s)] == .unused, let (a, b) = revMerge[s] {
                let leftLength = a < Int32(pieces.count) ? pieces[Int(a)].count : utf8SequenceLength(n[start])
                resegment(a, start, start + leftLength)
                resegment(b, start + leftLength, end)
                return
            }
            result.append((start, end, idOfSymbol(s, n, start, end)))
        }
        var k = 0
        while k >= 0 {
            resegment(sym[k], starts[k], ends[k])
            k = next[k]
        }
        return result
    }

    /// PieceToId of a final BPE symbol.
    @inline(__always)
    private func idOfSymbol(_ s: Int32, _ n: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        if s >= 0 && Int(s) < pieces.count {
            // A normal piece; a reserved piece with the same string would take precedence.
            if reservedIds.count > 0, let r = reservedIds.lookup(n.baseAddress! + start, end - start) { return Int(r) }
            return Int(s)
        }
        return Int(reservedIds.lookup(n.baseAddress! + start, end - start) ?? Int32(unkId))
    }

    /// unigram_model.cc EncodeOptimized: (byte range, id) of each piece of the best path.
    private func unigramSegments(_ n: UnsafeBufferPointer<UInt8>) -> [(start: Int, end: Int, id: Int)] {
        let size = n.count
        let unkScore = minScore - 10.0
        var bestScore = [Float](repeating: 0, count: size + 1)
        var bestStart = [Int](repeating: -1, count: size + 1)
        var bestId = [Int](repeating: -1, count: size + 1)
        var startsAt = 0
        while startsAt < size {
            let tillHere = bestScore[startsAt]
            var hasSingle = false
            let mblen = min(utf8SequenceLength(n[startsAt]), size - startsAt)
            var node: Int32 = 0
            var keyPos = startsAt
            while keyPos < size {
                node = trie.child(node, n[keyPos])
                if node < 0 { break }
                keyPos += 1
                let ret = trie.value(node)
                if ret < 0 { continue }
                let id = Int(ret)
                if types[id] == .unused { continue }
                let length = keyPos - startsAt
                // The original computes user-defined scores in double (float * size_t - 0.1).
                let score: Double = types[id] == .userDefined ? Double(Float(length) * maxScore) - 0.1 : Double(scores[id])
                let candidate = score + Double(tillHere)
                if bestStart[keyPos] == -1 || candidate > Double(bestScore[keyPos]) {
                    bestScore[keyPos] = Float(candidate)
                    bestStart[keyPos] = startsAt
                    bestId[keyPos] = id
                }
                if !hasSingle && length == mblen { hasSingle = true }
            }
            if !hasSingle {
                let target = startsAt + mblen
                let candidate = unkScore + tillHere
                if bestStart[target] == -1 || candidate > bestScore[target] {
                    bestScore[target] = candidate
                    bestStart[target] = startsAt
                    bestId[target] = unkId
                }
            }
            startsAt += mblen
        }
        var result: [(start: Int, end: Int, id: Int)] = []
        var endsAt = size
        while endsAt > 0 {
            let s = bestStart[endsAt]
            if s < 0 { break }
            result.append((s, endsAt, bestId[endsAt]))
            endsAt = s
        }
        result.reverse()
        return result
    }

    // MARK: - Decoding

    /// `sp.DecodeIds(ids)`; ids outside the model are skipped (the original raises).
    func decode(_ ids: [Int]) -> String {
        var text: [UInt8] = []
        var isBosWs = true
        var bosWsSeen = false
        var byteRun: [UInt8] = []
        func flushBytes() {
            if byteRun.isEmpty { return }
            byteRun.withUnsafeBufferPointer { b in
                var i = 0
                while i < b.count {
                    let (v, len) = decodeScalar(b, i)
                    if v == 0xFFFD && len == 1 { text.append(contentsOf: [0xEF, 0xBF, 0xBD]) } else { text.append(contentsOf: b[i..<(i + len)]) }
                    i += len
                }
            }
            byteRun.removeAll()
        }
        for rawId in ids {
            guard rawId >= 0 && rawId < pieces.count else { continue }
            let piece = pieces[rawId]
            let id = pieceToId(piece)
            if types[id] == .byte {
                if let b = SentencePieceModel.byteValue(piece) { byteRun.append(b) }
                continue
            }
            flushBytes()
            if bosWsSeen || !text.isEmpty { isBosWs = false }
            bosWsSeen = false
            switch types[id] {
            case .control:
                continue
            case .unknown:
                text.append(contentsOf: pieces[id] == piece ? unkSurface : piece)
                continue
            default:
                break
            }
            var body = piece[...]
            if isBosWs && (addDummyPrefix || removeExtraWhitespaces) {
                if body.starts(with: spaceSymbolUTF8) {
                    body = body.dropFirst(3)
                    bosWsSeen = !removeExtraWhitespaces
                }
            }
            var k = body.startIndex
            while k < body.endIndex {
                if k + 2 < body.endIndex && body[k] == 0xE2 && body[k + 1] == 0x96 && body[k + 2] == 0x81 {
                    text.append(0x20)
                    k += 3
                } else {
                    text.append(body[k])
                    k += 1
                }
            }
        }
        flushBytes()
        if let d = denormalizer {
            var out: [UInt8] = []
            text.withUnsafeBufferPointer { d.normalize($0, into: &out) }
            return stringFromUTF8(out)
        }
        return stringFromUTF8(text)
    }

    private static func byteValue(_ piece: [UInt8]) -> UInt8? {
        guard piece.count == 6, piece[0] == 0x3C, piece[1] == 0x30, piece[2] == 0x78, piece[5] == 0x3E else { return nil }
        return UInt8(String(decoding: piece[3..<5], as: UTF8.self), radix: 16)
    }
}

/// A merge candidate in the heap: ordered by `key` alone (the payload rides along), exactly as the
/// former two-array heap compared keys only.
struct KeyedPayload: Comparable {
    let key: UInt64
    let payload: UInt64

    @inline(__always) static func < (a: KeyedPayload, b: KeyedPayload) -> Bool { a.key < b.key }
    @inline(__always) static func == (a: KeyedPayload, b: KeyedPayload) -> Bool { a.key == b.key }
}
