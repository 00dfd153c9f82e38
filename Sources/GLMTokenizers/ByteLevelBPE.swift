// GPT-2 byte-level BPE as THUDM/GLM `data_utils/tokenization_gpt2.py` runs it (also RoBERTa, whose
// files differ only in the vocabulary): pre-tokenize with the GPT-2 pattern, map each UTF-8 byte to
// its printable stand-in (bytes_to_unicode), merge by rank, look the pieces up in vocab.json
// (missing → 0, as `encoder.get(token, 0)`); decoding maps the stand-ins back to bytes → UTF-8.
import Foundation
import GLMSupport

/// `bytes_to_unicode()`: byte → the code point that stands for it in vocab and merges files.
let gpt2ByteToScalar: [UInt32] = {
    var bs: [Int] = Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF)
    var cs = bs
    var n = 0
    for b in 0..<256 where !bs.contains(b) {
        bs.append(b)
        cs.append(256 + n)
        n += 1
    }
    var table = [UInt32](repeating: 0, count: 256)
    for (b, c) in zip(bs, cs) { table[b] = UInt32(c) }
    return table
}()

struct ByteLevelBPEModel: Sendable {
    /// vocab.json: token → id (last duplicate wins).
    let encoder: ByteStringTable
    /// decoder: id → token string (last duplicate wins).
    let decoder: [Int: String]
    /// `len(encoder)`.
    let count: Int
    /// Interned symbol of each byte's stand-in character.
    let byteSymbol: [Int32]
    /// Output id of each interned symbol: `encoder.get(string, 0)`.
    let symbolOutputId: [Int32]
    let pairs: PairTable
    private let cachePool = PieceCachePool()
    let vocabPath: String

    init(vocabFile: URL, mergesFile: URL) throws {
        vocabPath = vocabFile.path
        let entries: [(key: [UInt8], value: Int)]
        do {
            entries = try JSONText.parseStringIntObject(try TextFiles.readBytes(vocabFile))
        } catch let e as JSONText.ParseError {
            throw TokenizerError.malformedFile(path: vocabFile.path, reason: e.description)
        }
        var encoder = ByteStringTable(capacity: entries.count)
        var decoder: [Int: String] = [:]
        decoder.reserveCapacity(entries.count)
        for (key, value) in entries {
            // Keys are decoded with replacement so malformed UTF-8 can never crash us.
            let clean = Array(stringFromUTF8(key).utf8)
            encoder.insert(clean, value: Int32(truncatingIfNeeded: value), overwrite: true)
        }
        // decoder = {v: k for k, v in encoder.items()}: a Python dict iterates keys in the order of
        // their first insertion, with their final values.
        var seen = Set<[UInt8]>()
        for (key, _) in entries {
            let clean = Array(stringFromUTF8(key).utf8)
            if !seen.insert(clean).inserted { continue }
            if let v = encoder.lookup(clean) { decoder[Int(v)] = stringFromUTF8(clean) }
        }
        self.encoder = encoder
        self.decoder = decoder
        self.count = encoder.count

        // merges.txt: read().split('\n')[1:-1], each line split on whitespace.
        // Text mode turns \r\n and \r into \n first (universal newlines).
        var lines = TextFiles.splitOnNewlines(try TextFiles.readText(mergesFile))
        if !lines.isEmpty { lines.removeFirst() }
        if !lines.isEmpty { lines.removeLast() }

        // Symbols are interned by their exact UTF-8 bytes (Swift String equality would merge
        // canonically equivalent strings, which Python keeps apart).
        var intern: [[UInt8]: Int32] = [:]
        var strings: [[UInt8]] = []
        func internSymbol(_ s: [UInt8]) -> Int32 {
            if let v = intern[s] { return v }
            let v = Int32(strings.count)
            intern[s] = v
            strings.append(s)
            return v
        }
        var byteSymbol = [Int32](repeating: 0, count: 256)
        for b in 0..<256 {
            var u: [UInt8] = []
            appendUTF8(gpt2ByteToScalar[b], to: &u)
            byteSymbol[b] = internSymbol(u)
        }
        var parsed: [([UInt8], [UInt8])] = []
        parsed.reserveCapacity(lines.count)
        for line in lines {
            let parts = TextFiles.pythonSplit(line)
            if parts.count == 2 {
                let a = Array(parts[0].utf8), b = Array(parts[1].utf8)
                parsed.append((a, b))
                _ = internSymbol(a + b)
            } else {
                parsed.append(([], []))
            }
        }
        var pairs = PairTable(capacity: parsed.count)
        for (rank, (a, b)) in parsed.enumerated() where !a.isEmpty {
            // A part that no byte or merge can produce can never match: skip it.
            guard let sa = intern[a], let sb = intern[b], let sm = intern[a + b] else { continue }
            pairs.set(sa, sb, rank: UInt32(rank), merged: sm)
        }
        self.pairs = pairs
        self.byteSymbol = byteSymbol
        self.symbolOutputId = strings.map { encoder.lookup($0) ?? 0 }
    }

    /// `self.text_tokenizer.encode(text)`, appended to `out`.
    func encode(_ p: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        cachePool.withCache { cache in
            var syms: [Int32] = []
            var start = out.count
            GPT2PreTokenizer.forEachPiece(p) { a, b in
                let base = p.baseAddress! + a
                let n = b - a
                if cache.appendCached(base, n, to: &out) { return }
                syms.removeAll(keepingCapacity: true)
                for k in a..<b { syms.append(byteSymbol[Int(p[k])]) }
                BPEMerge.merge(&syms, pairs: pairs)
                start = out.count
                for s in syms { out.append(Int(symbolOutputId[Int(s)])) }
                if n <= 256 { cache.store(base, n, ids: out[start...]) }
            }
        }
    }

    /// Bytes a vocabulary string stands for (characters outside the byte alphabet keep their UTF-8).
    static func bytes(ofToken token: String) -> [UInt8] {
        var out: [UInt8] = []
        for c in token.unicodeScalars {
            if let b = gpt2ScalarToByte[c.value] { out.append(b) } else { appendUTF8(c.value, to: &out) }
        }
        return out
    }
}

/// `byte_decoder`: stand-in code point → byte.
let gpt2ScalarToByte: [UInt32: UInt8] = {
    var m: [UInt32: UInt8] = [:]
    for b in 0..<256 { m[gpt2ByteToScalar[b]] = UInt8(b) }
    return m
}()
