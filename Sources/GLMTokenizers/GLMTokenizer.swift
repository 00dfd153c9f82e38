// GLM's tokenizer: command tokens split out of the text first (in list order, with lstrip/rstrip),
// every remaining piece encoded by the text tokenizer on its own; IdToToken and DecodeIds as each
// original class (BertWordPieceTokenizer, GPT2BPETokenizer, ChineseSPTokenizer) defines them.
import Foundation

/// The text tokenizer behind a GLM tokenizer.
enum TextBackend: Sendable {
    case wordPiece(WordPieceModel)
    case byteLevel(ByteLevelBPEModel)
    case sentencePiece(SentencePieceModel)
}

public final class GLMTokenizer: Tokenizer, @unchecked Sendable {
    public let name: String
    public let family: TokenizerFamily
    public let commandTokens: [CommandToken]
    public let numTokens: Int
    public let numTextTokens: Int
    public let paddedVocabSize: Int
    public let hasTaskMask: Bool
    let backend: TextBackend

    /// `command_token_map`: string → id of the last entry with that string.
    private let commandIdByString: [[UInt8]: Int]
    /// `command_id_map`: id → token string of the last entry with that id.
    private let commandStringById: [Int: String]
    /// `command_name_map`: name → id (last entry with that name).
    private let commandIdByName: [String: Int]
    /// Distinct command strings as bytes (the `_command_token_tokens` list).
    private let commandStrings: [[UInt8]]
    /// GPT-2/RoBERTa: bytes each id decodes to (the text decoder with command strings patched in).
    private let byteLevelDecoderBytes: [Int: [UInt8]]

    init(name: String, family: TokenizerFamily, backend: TextBackend, commandTokens: [CommandToken],
         numTokens: Int, numTextTokens: Int, hasTaskMask: Bool, multiple: Int = 128) {
        self.name = name
        self.family = family
        self.backend = backend
        self.commandTokens = commandTokens
        self.numTokens = numTokens
        self.numTextTokens = numTextTokens
        self.hasTaskMask = hasTaskMask
        self.paddedVocabSize = (numTokens + multiple - 1) / multiple * multiple
        var byString: [[UInt8]: Int] = [:]
        var byId: [Int: String] = [:]
        var byName: [String: Int] = [:]
        var strings: [[UInt8]] = []
        for t in commandTokens {
            let b = Array(t.token.utf8)
            if byString[b] == nil { strings.append(b) }
            byString[b] = t.id
            byId[t.id] = t.token
            byName[t.name] = t.id
        }
        commandIdByString = byString
        commandStringById = byId
        commandIdByName = byName
        commandStrings = strings
        if case .byteLevel(let model) = backend {
            var bytes: [Int: [UInt8]] = [:]
            bytes.reserveCapacity(model.decoder.count + byId.count)
            for (id, token) in model.decoder { bytes[id] = ByteLevelBPEModel.bytes(ofToken: token) }
            for (id, token) in byId { bytes[id] = ByteLevelBPEModel.bytes(ofToken: token) }
            byteLevelDecoderBytes = bytes
        } else {
            byteLevelDecoderBytes = [:]
        }
    }

    // MARK: - Encoding

    /// A piece of the input after command-token splitting.
    private enum Segment {
        case text(Int, Int)
        case command(Int)
    }

    public func encode(_ text: String) -> [Int] {
        var bytes = Array(text.utf8)
        if bytes.isEmpty { return [] }
        return bytes.withUnsafeMutableBufferPointer { mp in
            let p = UnsafeBufferPointer(mp)
            if isPythonBlank(p) { return [] }  // `if not text.strip(): return []`, once, on the whole text
            var out: [Int] = []
            out.reserveCapacity(p.count / 3 + 8)
            for segment in split(p) {
                switch segment {
                case .command(let id):
                    out.append(id)
                case .text(let s, let e):
                    encodeText(UnsafeBufferPointer(rebasing: p[s..<e]), into: &out)
                }
            }
            return out
        }
    }

    /// Encodes text that holds no command tokens (a piece between them) with the text tokenizer.
    func encodeText(_ p: UnsafeBufferPointer<UInt8>, into out: inout [Int]) {
        switch backend {
        case .wordPiece(let m): m.encode(p, into: &out)
        case .byteLevel(let m): m.encode(p, into: &out)
        case .sentencePiece(let m): m.encode(p, into: &out)
        }
    }

    /// `split_on_tokens`: split on each command token in list order (`split_on_token` for each).
    private func split(_ p: UnsafeBufferPointer<UInt8>) -> [Segment] {
        var segments: [Segment] = [.text(0, p.count)]
        var next: [Segment] = []
        for token in commandTokens {
            let pattern = Array(token.token.utf8)
            guard let tokenId = commandIdByString[pattern], !pattern.isEmpty else { continue }
            next.removeAll(keepingCapacity: true)
            for segment in segments {
                guard case .text(let s, let e) = segment else { next.append(segment); continue }
                // A piece equal to a command string is that command (`sub_text in _command_token_tokens`).
                if let id = commandId(ofRange: p, s, e) { next.append(.command(id)); continue }
                var pieces: [(Int, Int)] = []
                var start = s
                var i = s
                pattern.withUnsafeBufferPointer { pat in
                    while let hit = find(pat, in: p, from: i, to: e) {
                        pieces.append((start, hit))
                        start = hit + pat.count
                        i = start
                    }
                }
                pieces.append((start, e))
                if pieces.count == 1 {
                    next.append(segment)
                    continue
                }
                let last = pieces.count - 1
                for (k, piece) in pieces.enumerated() {
                    var (ps, pe) = piece
                    if token.rstrip && k > 0 { ps = pythonLStripStart(p, start: ps, end: pe) }
                    if token.lstrip && k < last { pe = pythonRStripEnd(p, start: ps, end: pe) }
                    let empty = ps >= pe
                    if k == 0 && empty {
                        next.append(.command(tokenId))
                    } else if k == last {
                        if !empty { next.append(.text(ps, pe)) }
                    } else {
                        if !empty { next.append(.text(ps, pe)) }
                        next.append(.command(tokenId))
                    }
                }
            }
            swap(&segments, &next)
        }
        return segments
    }

    private func commandId(ofRange p: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Int? {
        let n = e - s
        for c in commandStrings where c.count == n {
            if c.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p.baseAddress! + s, n) == 0 }) {
                return commandIdByString[c]
            }
        }
        return nil
    }

    /// First occurrence of `pat` in `p[from..<to]`.
    private func find(_ pat: UnsafeBufferPointer<UInt8>, in p: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        let m = pat.count
        if to - from < m { return nil }
        let first = pat[0]
        var i = from
        let last = to - m
        while i <= last {
            guard let hit = memchr(p.baseAddress! + i, Int32(first), last - i + 1) else { return nil }
            let j = p.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            if memcmp(p.baseAddress! + j, pat.baseAddress!, m) == 0 { return j }
            i = j + 1
        }
        return nil
    }

    // MARK: - Ids and tokens

    public func token(for id: Int) -> String? {
        if let c = commandStringById[id] { return c }
        switch backend {
        case .wordPiece(let m):
            return id >= 0 && id < m.idToToken.count ? m.idToToken[id] : nil
        case .byteLevel(let m):
            return m.decoder[id]
        case .sentencePiece(let m):
            // Type tokens are checked before SentencePiece pieces: ids 0 and 1 read <str0>/<str1>.
            if id == 0 { return "<str0>" }
            if id == 1 { return "<str1>" }
            return m.idToPiece(id)
        }
    }

    public func id(for token: String) -> Int? {
        let bytes = Array(token.utf8)
        if let c = commandIdByString[bytes] { return c }
        switch backend {
        case .wordPiece(let m): return m.index(of: token)
        case .byteLevel(let m): return m.encoder.lookup(bytes).map(Int.init)
        case .sentencePiece(let m): return m.exactPieceId(bytes)
        }
    }

    public func commandToken(named name: String) -> Int? { commandIdByName[name] }

    // MARK: - Decoding

    public func decode(_ ids: [Int]) -> String {
        switch backend {
        case .wordPiece(let m):
            // Tokens joined with spaces, `##` pieces glued to the previous token.
            var words: [String] = []
            for id in ids {
                let t: String
                if let c = commandStringById[id] { t = c } else if id >= 0 && id < m.idToToken.count, let v = m.idToToken[id] { t = v } else { continue }
                if t.utf8.starts(with: [0x23, 0x23]), !words.isEmpty {
                    words[words.count - 1] += String(t.unicodeScalars.dropFirst(2))
                } else {
                    words.append(t)
                }
            }
            return words.joined(separator: " ")
        case .byteLevel:
            var bytes: [UInt8] = []
            for id in ids { if let b = byteLevelDecoderBytes[id] { bytes.append(contentsOf: b) } }
            return stringFromUTF8(bytes)
        case .sentencePiece(let m):
            // Runs of text ids decoded by SentencePiece, command ids as their strings.
            var text = ""
            var run: [Int] = []
            for id in ids {
                if let c = commandStringById[id] {
                    if !run.isEmpty { text += m.decode(run); run.removeAll() }
                    text += c
                } else {
                    run.append(id)
                }
            }
            if !run.isEmpty { text += m.decode(run) }
            return text
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
