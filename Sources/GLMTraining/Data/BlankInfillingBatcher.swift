// Batches of blank-infilling rows: a port of the original's `ConstructBlockStrategy.construct_blocks`
// (blocklm_utils.py), the collate function of GLM pre-training, with our own seeded generator.

/// Turns packed samples into training batches.
///
/// Typical use by a trainer:
/// ```swift
/// let ds = try TokenDataset(directory: "data/kjv")                      // from `glm data prepare`
/// var config = BlankInfillingConfig.preset("glm-large")!               // or flags (BlankInfillingOptions)
/// config.seqLength = 256
/// let parts = DocumentSplit.split(documentCount: ds.documentCount, weights: [949, 50, 1])
/// let train = try BlankInfillingBatcher(
///     source: PackedSampleSource(store: ds, documents: parts[0], config: config, commands: ds.commandTokens, seed: seed),
///     config: config, seed: seed)
/// let batch = try train.batch(step, size: 8)   // resume = same seed, next step index
/// // batch.tokens, .targets, .lossMask: [batchSize × length]; .positionIDs: [batchSize × 2 × length]; .sep: [batchSize]
/// ```
///
/// Batch `k` of size `b` is built from samples `k·b ..< (k+1)·b` of `source` with a generator derived
/// from `(seed, k)`: it is a pure function of (dataset, config, seed, k, b), so training resumes exactly
/// at any batch and any batch can be computed on its own.
///
/// As in the original, ONE objective is drawn per batch:
/// - bert (`bertProb`, or `singleSpanProb` with one span per sample): span lengths ~ Poisson(λ) on
///   1..<maxBlockLength until ≥ `bertRatio` of the sample's tokens, placed per packed document; [MASK].
/// - sentence (`gapSentenceProb`): whole sentences in random order until ≥ `gapSentenceRatio` of the
///   tokens; [sMASK] with `taskMask`, else [MASK].
/// - gpt (the rest): one span of length L drawn once per batch from gptMinRatio·(shortest) … (longest − 2)
///   (capped per sample at its length − 2). A sample holding several documents, or with probability
///   `gptInfillProb`, gets the suffix layout (the last L tokens, eos included, are generated after
///   [gMASK]/[MASK] + sop); otherwise an L-token span at a random place is blanked like a bert span.
public struct BlankInfillingBatcher: Sendable {
    public let source: PackedSampleSource
    public let config: BlankInfillingConfig
    public let seed: UInt64
    public var commands: CommandTokenIDs { source.commands }
    private let spanLengths: WeightedChoice

    public init(source: PackedSampleSource, config: BlankInfillingConfig, seed: UInt64) throws {
        try config.validate(commands: source.commands)
        guard config.seqLength == source.seqLength else {
            throw BlankInfillingError.invalidConfig("the sample source packs \(source.seqLength) tokens but --seq-length is \(config.seqLength)")
        }
        self.source = source
        self.config = config
        self.seed = seed
        spanLengths = WeightedChoice(values: Array(1..<config.maxBlockLength), weights: config.spanLengthWeights)
    }

    /// Batch `index` made of `size` packed samples. `minimumLength` pads rows further than the longest
    /// row (e.g. to a fixed shape); padding is zeros as the original's `pad_batch`.
    public func batch(_ index: Int, size: Int, minimumLength: Int = 0) throws -> BlockBatch {
        guard size > 0, index >= 0 else { throw BlankInfillingError.emptyBatch("batch \(index) of size \(size)") }
        let samples = (0..<size).map { source.sample(index * size + $0) }
        var rng = DataRandom(seed: seed, stream: .batch, index: UInt64(index))
        return try build(samples, rng: &rng, minimumLength: minimumLength)
    }

    /// `construct_blocks` on given samples (each must start with [CLS]/ENC).
    public func build(_ input: [PackedSample], rng: inout DataRandom, minimumLength: Int = 0) throws -> BlockBatch {
        guard !input.isEmpty else { throw BlankInfillingError.emptyBatch("no samples") }
        for (i, s) in input.enumerated() where s.tokens.first != commands.enc {
            throw BlankInfillingError.invalidConfig("sample \(i) does not start with the ENC token \(commands.enc)")
        }
        var samples = input
        if rng.random() < config.shortSeqProb { samples = splitSamples(samples, rng: &rng) }
        let singleSpan = rng.random() < config.singleSpanProb
        let choice = singleSpan ? 0.0 : rng.random()
        if choice < config.bertProb {
            return BlockBatch(rows: try bertRows(samples, singleSpan: singleSpan, rng: &rng), mode: .bert, minimumLength: minimumLength)
        } else if choice < config.bertProb + config.gapSentenceProb {
            return BlockBatch(rows: try sentenceRows(samples, rng: &rng), mode: .sentence, minimumLength: minimumLength)
        } else {
            return BlockBatch(rows: try gptRows(samples, rng: &rng), mode: .gpt, minimumLength: minimumLength)
        }
    }

    // MARK: objectives

    private func bertRows(_ samples: [PackedSample], singleSpan: Bool, rng: inout DataRandom) throws -> [BlockRow] {
        var rows: [BlockRow] = []
        for sample in samples {
            var lengths: [Int] = []
            if singleSpan {
                lengths = [spanLengths.draw(&rng)]
            } else {
                var masked = 0
                let target = Int(config.bertRatio * Double(sample.count))
                while masked < target {
                    let l = spanLengths.draw(&rng)
                    lengths.append(l); masked += l
                }
            }
            rng.shuffle(&lengths)
            let spans = SpanSampling.placeInDocuments(tokens: sample.tokens, lengths: lengths, bertRatio: config.bertRatio,
                                                      eos: commands.eos, enc: commands.enc, rng: &rng)
            if spans.count < lengths.count { continue }   // does not fit: the original drops the sample
            rows.append(try blockRow(sample, spans: spans, maskID: commands.mask, isBert: true, row: rows.count, rng: &rng))
        }
        return rows
    }

    private func sentenceRows(_ samples: [PackedSample], rng: inout DataRandom) throws -> [BlockRow] {
        let maskID = config.taskMask ? commands.sMask! : commands.mask
        var rows: [BlockRow] = []
        for sample in samples {
            var sentences = SpanSampling.sentences(of: sample, eos: commands.eos, enc: commands.enc)
            rng.shuffle(&sentences)
            let target = Int(config.gapSentenceRatio * Double(sample.count))
            var chosen: [BlankSpan] = []
            var covered = 0
            for s in sentences {
                chosen.append(s); covered += s.count
                if covered >= target { break }
            }
            rows.append(try blockRow(sample, spans: chosen, maskID: maskID, isBert: false, row: rows.count, rng: &rng))
        }
        return rows
    }

    private func gptRows(_ samples: [PackedSample], rng: inout DataRandom) throws -> [BlockRow] {
        let maskID = config.taskMask ? commands.gMask! : commands.mask
        let shortest = samples.map(\.count).min()!, longest = samples.map(\.count).max()!
        let upper = longest - 2
        let lower = min(Int(config.gptMinRatio * Double(shortest)), upper)  // the original fails when lower > upper
        let maxGeneration = rng.randint(lower, upper)
        var rows: [BlockRow] = []
        for sample in samples {
            let n = sample.count
            let generation = min(maxGeneration, n - 2)
            if generation < 1 {   // too short to blank anything (the original fails here): no loss
                rows.append(try BlockLayout.layOut(tokens: sample.tokens, spans: [], maskID: maskID, sopID: commands.sop,
                                                   eopID: commands.eop, blockPositionEncoding: config.blockPositionEncoding).row)
                continue
            }
            let firstEOS = sample.tokens.firstIndex(of: commands.eos)
            let multipleDocuments = firstEOS != nil && firstEOS != n - 1
            var suffix = multipleDocuments || rng.random() < config.gptInfillProb
            var spans: [BlankSpan] = []
            if !suffix {
                spans = SpanSampling.placeInDocuments(tokens: sample.tokens, lengths: [generation], bertRatio: config.bertRatio,
                                                      eos: commands.eos, enc: commands.enc, rng: &rng)
                suffix = spans.isEmpty   // cannot happen for a one-document sample; the original would fail
            }
            if suffix {
                rows.append(try BlockLayout.suffix(tokens: sample.tokens, lossMask: sample.lossMask, division: n - generation,
                                                   maskID: maskID, sopID: commands.sop,
                                                   blockPositionEncoding: config.blockPositionEncoding))
            } else {
                rows.append(try blockRow(sample, spans: spans, maskID: maskID, isBert: false, row: rows.count, rng: &rng))
            }
        }
        return rows
    }

    // MARK: shared steps

    /// `make_block_data`: order the spans (shuffled or text order), lay out, then the optional random
    /// [dBLOCK] hiding of part-B span tokens (`blockMaskProb`) and of part-A context (`contextMaskRatio`),
    /// both for bert spans only.
    private func blockRow(_ sample: PackedSample, spans: [BlankSpan], maskID: Int32, isBert: Bool, row: Int,
                          rng: inout DataRandom) throws -> BlockRow {
        var spans = spans
        if config.shuffleBlocks { rng.shuffle(&spans) } else { spans.sort { $0.lowerBound < $1.lowerBound } }
        for span in spans where sample.tokens[span].contains(commands.eos) { throw BlankInfillingError.eosInSpan(row: row) }
        var parts = try BlockLayout.layOut(tokens: sample.tokens, spans: spans, maskID: maskID, sopID: commands.sop,
                                           eopID: commands.eop, blockPositionEncoding: config.blockPositionEncoding)
        if isBert, config.blockMaskProb > 0, let dBlock = commands.dBlock {
            for (start, span) in zip(parts.blockStarts, spans) {
                for i in (start + 1)...(start + span.count) where rng.random() < config.blockMaskProb {
                    parts.row.tokens[i] = dBlock
                }
            }
        }
        if isBert, config.contextMaskRatio > 0, let dBlock = commands.dBlock {
            var candidates = Set<Int>()
            for segment in parts.partASegments {
                if segment.lowerBound != 0 {
                    candidates.formUnion(segment.lowerBound..<min(segment.upperBound, segment.lowerBound + config.contextMaskRange))
                }
                if segment.upperBound != 0 {
                    candidates.formUnion(max(segment.lowerBound, segment.upperBound - config.contextMaskRange)..<segment.upperBound)
                }
            }
            let count = min(candidates.count, Int(config.contextMaskRatio * Double(sample.count)))
            for position in rng.sample(candidates.sorted(), count) { parts.row.tokens[position] = dBlock }
        }
        return parts.row
    }

    /// `split_samples`: cuts every sample into (seqLength−1)/L pieces of about L tokens (L drawn from
    /// 32 ..< seqLength−1), moving the cut points to sentence ends, each piece with a new [CLS].
    private func splitSamples(_ samples: [PackedSample], rng: inout DataRandom) -> [PackedSample] {
        let target = rng.randrange(32, config.seqLength - 1)
        let pieces = (config.seqLength - 1) / target
        var result: [PackedSample] = []
        for sample in samples {
            let tokens = Array(sample.tokens.dropFirst()), mask = Array(sample.lossMask.dropFirst())
            let flags = Array(sample.sentenceFlags.dropFirst())
            func boundaryBefore(_ i: Int) -> Bool { flags[i - 1] & SentenceEnd.spanBit != 0 || tokens[i - 1] == commands.eos }
            for _ in 0..<pieces {
                var range = 0..<tokens.count
                if target < tokens.count {
                    var start = rng.randrange(0, tokens.count - target)
                    while start > 0 && (tokens[start] == commands.eos || !boundaryBefore(start)) { start -= 1 }
                    var end = start + target
                    while end > start && !boundaryBefore(end) { end -= 1 }
                    if end - start < target / 2 { end = start + target }
                    range = start..<end
                }
                result.append(PackedSample(tokens: [commands.enc] + tokens[range], lossMask: [0] + mask[range],
                                           sentenceFlags: [0] + flags[range]))
            }
        }
        return result
    }
}
