// Samples of at most `seqLength` tokens cut and packed from documents: a port of the original's
// `BlockDataset.__getitem__` (data_utils/datasets.py) with our own seeded generator.

/// Sample `k` is a pure function of (documents, seqLength, seed, k).
///
/// A sample starts from a document drawn with probability proportional to its length. A document longer
/// than the sample is cut: a random start, moved (half the time backwards, half forwards, at most
/// seqLength/2 tokens) to just after a sentence end, then the end trimmed back to a sentence end when
/// that keeps at least half the window. Shorter documents are followed by further drawn documents
/// (each `[CLS] tokens eos`) until the sample is full, the last one trimmed the same way.
public struct PackedSampleSource: Sendable {
    public let store: any DocumentStore
    /// Indices into `store` that this source draws from (e.g. the training split).
    public let documents: [Int]
    public let seqLength: Int
    public let commands: CommandTokenIDs
    public let seed: UInt64
    public let sampleAcrossDocuments: Bool
    public let nonSentenceStart: Double
    /// Running token totals of `documents` (the original's `weighting`).
    private let cumulativeLengths: [Int]

    public init(store: any DocumentStore, documents: [Int]? = nil, seqLength: Int, commands: CommandTokenIDs,
                seed: UInt64, sampleAcrossDocuments: Bool = true, nonSentenceStart: Double = 0) throws {
        let docs = documents ?? Array(0..<store.documentCount)
        var total = 0
        var cumulative: [Int] = []
        cumulative.reserveCapacity(docs.count)
        for d in docs {
            guard d >= 0 && d < store.documentCount else {
                throw BlankInfillingError.invalidConfig("document index \(d) is outside the dataset's 0..<\(store.documentCount)")
            }
            total += store.documentLength(d)
            cumulative.append(total)
        }
        guard total > 0 else {
            throw BlankInfillingError.emptyBatch("the \(docs.count) selected documents hold no tokens")
        }
        guard seqLength >= 4 else { throw BlankInfillingError.invalidConfig("seq-length \(seqLength) < 4") }
        self.store = store
        self.documents = docs
        self.seqLength = seqLength
        self.commands = commands
        self.seed = seed
        self.sampleAcrossDocuments = sampleAcrossDocuments
        self.nonSentenceStart = nonSentenceStart
        cumulativeLengths = cumulative
    }

    public init(store: any DocumentStore, documents: [Int]? = nil, config: BlankInfillingConfig,
                commands: CommandTokenIDs, seed: UInt64) throws {
        try self.init(store: store, documents: documents, seqLength: config.seqLength, commands: commands,
                      seed: seed, sampleAcrossDocuments: config.sampleAcrossDocuments,
                      nonSentenceStart: config.nonSentenceStart)
    }

    public var totalTokens: Int { cumulativeLengths.last ?? 0 }

    /// A document of `store`, drawn with probability proportional to its length (`get_weighted_samples`).
    private func drawDocument(_ rng: inout DataRandom) -> Int {
        let x = rng.below(totalTokens)
        var lo = 0, hi = cumulativeLengths.count - 1   // bisect_right: first total > x
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulativeLengths[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        return documents[lo]
    }

    private typealias Piece = (tokens: [Int32], mask: [Int32], flags: [UInt8])

    /// `[CLS]` + positions `from ..< from+count` of document `d` followed by its eos (position `length`).
    /// Only the needed window is read: a sample never needs more than `seqLength` tokens of a document.
    private func piece(_ d: Int, from: Int, count: Int) -> Piece {
        let length = store.documentLength(d)
        let end = min(length + 1, from + count)
        let textEnd = min(end, length)
        var tokens = [commands.enc], flags = [UInt8(0)]
        if from < textEnd {
            tokens += store.documentTokens(d, in: from..<textEnd)
            flags += store.documentSentenceFlags(d, in: from..<textEnd)
        }
        if end == length + 1 { tokens.append(commands.eos); flags.append(0) }
        return (tokens, [0] + [Int32](repeating: 1, count: tokens.count - 1), flags)
    }

    public func sample(_ index: Int) -> PackedSample {
        var rng = DataRandom(seed: seed, stream: .packedSample, index: UInt64(index))
        let first = drawDocument(&rng)
        let n = store.documentLength(first) + 1   // with its eos
        let toStrip = n - seqLength + 1
        if toStrip > 0 {
            func endsWindowSentence(_ i: Int) -> Bool {
                // Python's tokens[-1] at i = -1 is the last token: the eos, never a sentence end.
                let j = i < 0 ? n + i : i
                return j < n - 1 && store.documentSentenceFlags(first, in: j..<(j + 1))[0] & SentenceEnd.windowBit != 0
            }
            var start = rng.below(toStrip)
            var moved = 0
            if rng.random() > nonSentenceStart {
                if rng.random() < 0.5 {
                    while moved < seqLength / 2 && start > 0 && !endsWindowSentence(start - 1) { start -= 1; moved += 1 }
                } else {
                    while moved < seqLength / 2 && start < n && !endsWindowSentence(start - 1) { start += 1; moved += 1 }
                }
            }
            var sample = piece(first, from: start, count: seqLength - 1)
            Self.cut(&sample, fullCount: 1 + n - start, to: seqLength)
            return PackedSample(tokens: sample.tokens, lossMask: sample.mask, sentenceFlags: sample.flags)
        }
        var sample = piece(first, from: 0, count: n)
        if sampleAcrossDocuments {
            while sample.tokens.count < seqLength {
                let d = drawDocument(&rng)
                let fullCount = store.documentLength(d) + 2   // [CLS] tokens eos
                let room = seqLength - sample.tokens.count
                var next = piece(d, from: 0, count: room - 1)
                Self.cut(&next, fullCount: fullCount, to: room)
                sample.tokens += next.tokens; sample.mask += next.mask; sample.flags += next.flags
                if fullCount >= room { break }
            }
        }
        return PackedSample(tokens: sample.tokens, lossMask: sample.mask, sentenceFlags: sample.flags)
    }

    /// `right_strip_seq` of a sequence of `fullCount` tokens of which `s` holds the first
    /// `min(fullCount, length)`: cut to `length` tokens, preferably just after a sentence end if that
    /// keeps at least half of `length`.
    private static func cut(_ s: inout Piece, fullCount: Int, to length: Int) {
        guard fullCount > length else { return }
        var keep = length
        while keep > 1 && s.flags[keep - 1] & SentenceEnd.windowBit == 0 { keep -= 1 }
        if keep < length / 2 { keep = length }
        s.tokens.removeLast(s.tokens.count - keep); s.mask.removeLast(s.mask.count - keep); s.flags.removeLast(s.flags.count - keep)
    }
}
