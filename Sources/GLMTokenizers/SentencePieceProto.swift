// Reading a SentencePiece `.model` file: the protobuf `ModelProto` of sentencepiece_model.proto,
// decoded by hand (only the fields tokenization uses), so the module depends on nothing.

struct SentencePieceProto: Sendable {
    enum PieceType: Int, Sendable {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece: Sendable {
        var piece: [UInt8] = []
        var score: Float = 0
        var type: PieceType = .normal
    }

    enum ModelType: Int, Sendable { case unigram = 1, bpe = 2, word = 3, char = 4 }

    struct NormalizerSpec: Sendable {
        var name = ""
        var precompiledCharsmap: [UInt8] = []
        var addDummyPrefix = true
        var removeExtraWhitespaces = true
        var escapeWhitespaces = true
    }

    var pieces: [Piece] = []
    var modelType: ModelType = .unigram
    var treatWhitespaceAsSuffix = false
    var byteFallback = false
    var unkSurface: [UInt8] = Array(" \u{2047} ".utf8)
    var normalizer = NormalizerSpec()
    var denormalizer: NormalizerSpec? = nil

    struct Malformed: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }

    init(bytes: [UInt8]) throws {
        try bytes.withUnsafeBufferPointer { b in
            var r = WireReader(p: b, start: 0, end: b.count)
            while let (field, wire) = try r.nextField() {
                switch (field, wire) {
                case (1, 2): pieces.append(try SentencePieceProto.parsePiece(try r.subReader()))
                case (2, 2): try parseTrainerSpec(try r.subReader())
                case (3, 2): normalizer = try SentencePieceProto.parseNormalizer(try r.subReader())
                case (5, 2): denormalizer = try SentencePieceProto.parseNormalizer(try r.subReader())
                default: try r.skip(wire)
                }
            }
        }
    }

    private static func parsePiece(_ sub: WireReader) throws -> Piece {
        var r = sub
        var piece = Piece()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 2): piece.piece = try r.bytes()
            case (2, 5): piece.score = Float(bitPattern: try r.fixed32())
            case (3, 0):
                let raw = Int(truncatingIfNeeded: try r.varint())
                guard let t = PieceType(rawValue: raw) else { throw Malformed(reason: "unknown piece type \(raw)") }
                piece.type = t
            default: try r.skip(wire)
            }
        }
        return piece
    }

    private mutating func parseTrainerSpec(_ sub: WireReader) throws {
        var r = sub
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (3, 0):
                let raw = Int(truncatingIfNeeded: try r.varint())
                guard let t = ModelType(rawValue: raw) else { throw Malformed(reason: "unknown model type \(raw)") }
                modelType = t
            case (24, 0): treatWhitespaceAsSuffix = try r.varint() != 0
            case (35, 0): byteFallback = try r.varint() != 0
            case (44, 2): unkSurface = try r.bytes()
            default: try r.skip(wire)
            }
        }
    }

    private static func parseNormalizer(_ sub: WireReader) throws -> NormalizerSpec {
        var r = sub
        var spec = NormalizerSpec()
        while let (field, wire) = try r.nextField() {
            switch (field, wire) {
            case (1, 2): spec.name = stringFromUTF8(try r.bytes())
            case (2, 2): spec.precompiledCharsmap = try r.bytes()
            case (3, 0): spec.addDummyPrefix = try r.varint() != 0
            case (4, 0): spec.removeExtraWhitespaces = try r.varint() != 0
            case (5, 0): spec.escapeWhitespaces = try r.varint() != 0
            default: try r.skip(wire)
            }
        }
        return spec
    }
}

/// Protobuf wire-format reader over a byte range; every read is bounds-checked.
struct WireReader {
    let p: UnsafeBufferPointer<UInt8>
    var i: Int
    let end: Int

    init(p: UnsafeBufferPointer<UInt8>, start: Int, end: Int) {
        self.p = p
        self.i = start
        self.end = end
    }

    private func fail(_ what: String) -> SentencePieceProto.Malformed {
        SentencePieceProto.Malformed(reason: "\(what) at byte \(i)")
    }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard i < end else { throw fail("truncated varint") }
            let b = p[i]
            i += 1
            if shift < 64 { v |= UInt64(b & 0x7F) << shift }
            if b & 0x80 == 0 { return v }
            shift += 7
            if shift > 70 { throw fail("varint too long") }
        }
    }

    mutating func nextField() throws -> (Int, Int)? {
        if i >= end { return nil }
        let key = try varint()
        return (Int(key >> 3), Int(key & 7))
    }

    mutating func fixed32() throws -> UInt32 {
        guard i + 4 <= end else { throw fail("truncated fixed32") }
        let v = UInt32(p[i]) | UInt32(p[i + 1]) << 8 | UInt32(p[i + 2]) << 16 | UInt32(p[i + 3]) << 24
        i += 4
        return v
    }

    mutating func lengthDelimited() throws -> Range<Int> {
        let n = try varint()
        guard n <= UInt64(end - i) else { throw fail("length \(n) runs past the end") }
        let r = i..<(i + Int(n))
        i += Int(n)
        return r
    }

    mutating func bytes() throws -> [UInt8] { Array(p[try lengthDelimited()]) }

    mutating func subReader() throws -> WireReader {
        let r = try lengthDelimited()
        return WireReader(p: p, start: r.lowerBound, end: r.upperBound)
    }

    mutating func skip(_ wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: guard i + 8 <= end else { throw fail("truncated fixed64") }; i += 8
        case 2: _ = try lengthDelimited()
        case 5: guard i + 4 <= end else { throw fail("truncated fixed32") }; i += 4
        default: throw fail("unsupported wire type \(wire)")
        }
    }
}
