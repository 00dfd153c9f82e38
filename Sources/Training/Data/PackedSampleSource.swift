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

    /// A document of `store` with its trailing eos, drawn proportionally to length (`get_weighted_samples`).
    private func drawDocument(_ rng: inout DataRandom) -> (tokens: [Int32], mask: [Int32], flags: [UInt8]) {
        let x = rng.below(totalTokens)
        var lo = 0, hi = cumulativeLengths.count - 1   // bisect_right: first total > x
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulativeLengths[mid] > x { hi = mid } else { lo = mid + 1 }
        }
        let d = documents[lo]
        let tokens = store.documentTokens(d) + [commands.eos]
        return (tokens, [Int32](repeating: 1, count: tokens.count), store.documentSentenceFlags(d) + [0])
    }

    public func sample(_ index: Int) -> PackedSample {
        var rng = DataRandom(seed: seed, stream: .packedSample, index: UInt64(index))
        let (tokens, mask, flags) = drawDocument(&rng)
        func endsWindowSentence(_ i: Int) -> Bool {
            // Python's tokens[-1] at i = -1 is the last token (the eos: never a sentence end).
            let j = i < 0 ? flags.count + i : i
            return flags[j] & SentenceEnd.windowBit != 0
        }
        let toStrip = tokens.count - seqLength + 1
        if toStrip > 0 {
            var start = rng.below(toStrip)
            var moved = 0
            if rng.random() > nonSentenceStart {
                if rng.random() < 0.5 {
                    while moved < seqLength / 2 && start > 0 && !endsWindowSentence(start - 1) { start -= 1; moved += 1 }
                } else {
                    while moved < seqLength / 2 && start < tokens.count && !endsWindowSentence(start - 1) { start += 1; moved += 1 }
                }
            }
            var sample = (tokens: [commands.enc] + tokens[start...], mask: [Int32(0)] + mask[start...],
                          flags: [UInt8(0)] + flags[start...])
            Self.rightStrip(&sample, to: seqLength)
            return PackedSample(tokens: sample.tokens, lossMask: sample.mask, sentenceFlags: sample.flags)
        }
        var sample = (tokens: [commands.enc] + tokens, mask: [Int32(0)] + mask, flags: [UInt8(0)] + flags)
        if sampleAcrossDocuments {
            while sample.tokens.count < seqLength {
                let next = drawDocument(&rng)
                var piece = (tokens: [commands.enc] + next.tokens, mask: [Int32(0)] + next.mask, flags: [UInt8(0)] + next.flags)
                let room = seqLength - sample.tokens.count
                let isLast = piece.tokens.count >= room
                Self.rightStrip(&piece, to: room)
                sample.tokens += piece.tokens; sample.mask += piece.mask; sample.flags += piece.flags
                if isLast { break }
            }
        }
        return PackedSample(tokens: sample.tokens, lossMask: sample.mask, sentenceFlags: sample.flags)
    }

    /// `right_strip_seq`: cut to `length` tokens, preferably just after a sentence end if that keeps at
    /// least half of `length`.
    private static func rightStrip(_ s: inout (tokens: [Int32], mask: [Int32], flags: [UInt8]), to length: Int) {
        let n = s.tokens.count
        var strip = n - length
        guard strip > 0 else { return }
        while strip < n - 1 && s.flags[n - strip - 1] & SentenceEnd.windowBit == 0 { strip += 1 }
        if n - strip < length / 2 { strip = n - length }
        s.tokens.removeLast(strip); s.mask.removeLast(strip); s.flags.removeLast(strip)
    }
}
