// BERT uncased WordPiece, as THUDM/GLM `data_utils/wordpiece.py` (BasicTokenizer + WordpieceTokenizer)
// runs it: clean control characters and whitespace, split CJK ideographs, lower-case and strip
// accents, split punctuation, then greedy longest-match-first `##` pieces; words over 100 characters
// become [UNK].
import Foundation

struct WordPieceModel: Sendable {
    /// vocab.txt entries → id (a repeated entry keeps its last line, as the original's dict does).
    let vocab: ByteStringTable
    /// Entries that start with `##`, keyed without the prefix (same ids as `vocab`).
    let continuation: ByteStringTable
    /// `ids_to_tokens`: only the surviving (last) line of a repeated entry has a reverse mapping.
    let idToToken: [String?]
    /// `len(vocab)`: distinct entries.
    let distinctCount: Int
    let unkId: Int
    let path: String
    let maxInputCharsPerWord = 100
    private let normalizer = BertScalarNormalizer()

    /// Words BasicTokenizer leaves untouched (`never_split`).
    private static let neverSplit: [[UInt32]] = ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"].map {
        $0.unicodeScalars.map { $0.value }
    }

    init(vocabFile url: URL) throws {
        let text = try TextFiles.readText(url)
        var vocab = ByteStringTable(capacity: 32768)
        var continuation = ByteStringTable(capacity: 8192)
        // Keyed by exact UTF-8 bytes: Swift String equality would merge canonically equivalent
        // entries that Python's dict keeps apart.
        var lastIndex: [[UInt8]: Int] = [:]
        var lineCount = 0
        for (index, line) in TextFiles.universalLines(text).enumerated() {
            lastIndex[Array(TextFiles.pythonStrip(line).utf8)] = index
            lineCount += 1
        }
        var idToToken = [String?](repeating: nil, count: lineCount)
        for (token, index) in lastIndex {
            idToToken[index] = stringFromUTF8(token)
            vocab.insert(token, value: Int32(index), overwrite: true)
            if token.count >= 2 && token[0] == 0x23 && token[1] == 0x23 {
                continuation.insert(Array(token.dropFirst(2)), value: Int32(index), overwrite: true)
            }
        }
        guard let unk = lastIndex[Array("[UNK]".utf8)] else {
            throw TokenizerError.missingEntry(path: url.path, entry: "[UNK]")
        }
        self.vocab = vocab
        self.continuation = continuation
        self.idToToken = idToToken
        self.distinctCount = lastIndex.count
        self.unkId = unk
        self.path = url.path
    }

    func index(of token: String) -> Int? { vocab.lookup(token).map(Int.init) }

    /// Scratch buffers reused across the words of one call.
    private struct Scratch {
        var word: [UInt32] = []
        var normalized: [UInt32] = []
        var piece: [UInt32] = []
        var bytes: [UInt8] = []
        var bounds: [Int] = []
        var pieces: [Int] = []
    }

    /// `self.text_tokenizer.tokenize(text)` → `convert_tokens_to_ids`, appended to `out`.
    func encode(_ p: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        var s = Scratch()
        var i = 0
        while i < p.count {
            let (v, len) = decodeScalar(p, i)
            i += len
            if v < 0x80 {
                let b = UInt8(v)
                if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                    flushWord(&s, into: &out)
                    continue
                }
                if b < 0x20 || b == 0x7F { continue }  // control characters are dropped
                s.word.append(v)
                continue
            }
            if v == 0xFFFD { continue }
            let c = scalarClass(v)
            if c.contains(.bertControl) { continue }
            if c.contains(.bertWhitespace) || c.contains(.pythonSpace) {
                flushWord(&s, into: &out)
                continue
            }
            if c.contains(.cjk) {
                flushWord(&s, into: &out)
                s.word.append(v)
                flushWord(&s, into: &out)
                continue
            }
            s.word.append(v)
        }
        flushWord(&s, into: &out)
    }

    /// One whitespace-delimited word of BasicTokenizer: lower/strip accents, split punctuation.
    private func flushWord(_ s: inout Scratch, into out: inout [Int]) {
        if s.word.isEmpty { return }
        defer { s.word.removeAll(keepingCapacity: true) }
        if WordPieceModel.neverSplit.contains(s.word) {
            s.piece = s.word
            wordPiece(&s, into: &out)
            return
        }
        var ascii = true
        for v in s.word where v >= 0x80 { ascii = false; break }
        if ascii {
            s.normalized.removeAll(keepingCapacity: true)
            for v in s.word { s.normalized.append((v >= 0x41 && v <= 0x5A) ? v | 0x20 : v) }
        } else {
            normalizer.lowerAndStripAccents(s.word, into: &s.normalized)
        }
        s.piece.removeAll(keepingCapacity: true)
        for v in s.normalized {
            let c = scalarClass(v)
            if c.contains(.bertPunctuation) {
                if !s.piece.isEmpty { wordPiece(&s, into: &out); s.piece.removeAll(keepingCapacity: true) }
                s.piece.append(v)
                wordPiece(&s, into: &out)
                s.piece.removeAll(keepingCapacity: true)
            } else if c.contains(.pythonSpace) {
                // Only reachable if lower-casing produced whitespace; the original re-splits there.
                if !s.piece.isEmpty { wordPiece(&s, into: &out); s.piece.removeAll(keepingCapacity: true) }
            } else {
                s.piece.append(v)
            }
        }
        if !s.piece.isEmpty { wordPiece(&s, into: &out) }
    }

    /// WordpieceTokenizer on `s.piece`: greedy longest-match-first over code points.
    private func wordPiece(_ s: inout Scratch, into out: inout [Int]) {
        let n = s.piece.count
        if n > maxInputCharsPerWord {
            out.append(unkId)
            return
        }
        s.bytes.removeAll(keepingCapacity: true)
        s.bounds.removeAll(keepingCapacity: true)
        for v in s.piece {
            s.bounds.append(s.bytes.count)
            appendUTF8(v, to: &s.bytes)
        }
        s.bounds.append(s.bytes.count)
        s.pieces.removeAll(keepingCapacity: true)
        let ok: Bool = s.bytes.withUnsafeBufferPointer { bytes in
            s.bounds.withUnsafeBufferPointer { bounds in
                var start = 0
                while start < n {
                    let table = start == 0 ? vocab : continuation
                    let limit = table.maxKeyLength
                    var end = n
                    while end > start && bounds[end] - bounds[start] > limit { end -= 1 }
                    var found: Int32? = nil
                    while start < end {
                        if let id = table.lookup(bytes.baseAddress! + bounds[start], bounds[end] - bounds[start]) {
                            found = id
                            break
                        }
                        end -= 1
                    }
                    guard let id = found else { return false }
                    s.pieces.append(Int(id))
                    start = end
                }
                return true
            }
        }
        if ok { out.append(contentsOf: s.pieces) } else { out.append(unkId) }
    }
}
