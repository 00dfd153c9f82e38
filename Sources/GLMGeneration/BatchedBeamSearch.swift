import GLMEngine
import GLM

extension GLMGenerator {
    /// Beam search on many seq2seq sources at once, each exactly as `seq2seqBeamSearch(sourceIds:
    /// maskPosition:options:)` decodes it alone: one backend holds every source's beams, so each step is
    /// one forward over all live rows instead of one per source. Results are in source order. A source
    /// whose search ends leaves the batch while the others go on. Equal to one-at-a-time decoding up to
    /// float rounding of the batched products (see `BatchedBeamSearchTests` for the measured difference).
    public func seq2seqBeamSearch(sources: [(sourceIds: [Int], maskPosition: Int)],
                                  options: GenerationOptions) throws -> [BeamSearchResult] {
        let options = try checked(options)
        guard case .beam(let beam) = options.strategy else { throw GenerationError.invalidOptions("seq2seq decoding needs the beam strategy") }
        for (i, s) in sources.enumerated() {
            guard !s.sourceIds.isEmpty, s.sourceIds.count < model.config.maxSequenceLength else {
                throw GenerationError.badInput(
                    "source \(i): \(s.sourceIds.count) tokens, but a source needs 1 to \(model.config.maxSequenceLength - 1) (the model's positions)")
            }
            guard s.maskPosition >= 0 && s.maskPosition < s.sourceIds.count else {
                throw GenerationError.badInput("source \(i): mask position \(s.maskPosition) outside the source of \(s.sourceIds.count) tokens")
            }
        }
        if sources.isEmpty { return [] }
        return try locked {
            let f = filler(options)
            let width = sources.map(\.sourceIds.count).max()!
            let backend = f.makeBackend(rows: sources.count, capacity: width + options.maxLength + 1)
            var loop = BeamSearchLoop(options: beam, maxLength: options.maxLength, minLength: options.minLength,
                                      noRepeatNGramSize: options.noRepeatNGramSize, sop: specialTokens.sop,
                                      endTokens: [specialTokens.eop], vocabularyLimit: f.vocabularyLimit)
            loop.seed = options.seed
            let search = BatchedBeamSearch(loop: loop, pad: specialTokens.pad)
            return try search.run(sources.map { ($0.sourceIds, $0.maskPosition) }, backend: backend)
        }
    }
}

/// Many seq2seq sources' beam searches on one `DecodingBackend`, the seq2seq evaluator's batched decoding.
///
/// The sources are right-padded to the longest and run in one forward; an explicit mask hides each
/// row's pad key columns (masked scores become −65504, so their attention weights are exactly 0) and keeps
/// every source bidirectional over itself. Each step then feeds every live row together: a source's one
/// `sop` row at step 0, its num_beams beam rows after, each at (its mask position, step + 1), with the
/// same pad columns hidden. Every source keeps its own `BeamSearchState` (scorer, scores, seeded draws),
/// which runs the per-source step of `BeamSearchLoop`; the backend then keeps each live source's
/// surviving rows, in source order, and drops the rows of sources that are done.
struct BatchedBeamSearch {
    let loop: BeamSearchLoop
    /// Id of the padding fed after shorter sources (hidden from every query).
    let pad: Int

    func run(_ sources: [(ids: [Int], maskPosition: Int)], backend: DecodingBackend) throws -> [BeamSearchResult] {
        let lengths = sources.map(\.ids.count)
        let width = lengths.max() ?? 0
        let ids = sources.map { $0.ids + Array(repeating: pad, count: width - $0.ids.count) }
        let positions = lengths.map { n in (0..<width).map { TokenPosition(position: $0 < n ? $0 : 0, block: 0) } }
        let ragged = lengths.contains { $0 != width }
        _ = try backend.feed(ids: ids, positions: positions,
                             mask: ragged ? .explicit(Self.paddingMask(lengths, width: width, queries: width, total: width)) : .sep([width]),
                             logits: false)

        var states = sources.map { _ in BeamSearchState(loop: loop) }
        var live = states.indices.filter { !states[$0].isFinished }
        if live.count != sources.count && !live.isEmpty { try backend.select(rows: live) }
        while !live.isEmpty {
            var fed: [[Int]] = [], at: [[TokenPosition]] = [], rowLengths: [Int] = []
            for s in live {
                let tokens = states[s].nextTokens
                let position = TokenPosition(position: sources[s].maskPosition, block: states[s].counter + 1)
                fed += tokens.map { [$0] }
                at += Array(repeating: [position], count: tokens.count)
                rowLengths += Array(repeating: lengths[s], count: tokens.count)
            }
            let mask: GLMMask = rowLengths.contains { $0 != width }
                ? .explicit(Self.paddingMask(rowLengths, width: width, queries: 1, total: backend.length + 1))
                : .sep([0])
            guard let logits = try backend.feed(ids: fed, positions: at, mask: mask, logits: true) else {
                throw GenerationError.badInput("no logits at batched beam step")
            }
            let vocab = logits.shape[2]
            var keep: [Int] = [], stillLive: [Int] = []
            var offset = 0
            for s in live {
                let held = states[s].nextTokens.count
                let rows = try states[s].step(logits: UnsafePointer(logits.floats + offset * vocab), vocab: vocab)
                if !states[s].isFinished {
                    keep += rows.map { offset + $0 }
                    stillLive.append(s)
                }
                offset += held
            }
            live = stillLive
            if !keep.isEmpty { try backend.select(rows: keep) }
        }
        return try states.map { try $0.result() }
    }

    /// [R, 1, queries, total]: row r attends every key column except its source's padding
    /// (lengths[r] ≤ j < width); columns after `width` (the decoded steps) are the row's own.
    static func paddingMask(_ lengths: [Int], width: Int, queries: Int, total: Int) -> Tensor {
        let t = Tensor(uninitialized: [lengths.count, 1, queries, total])
        for (r, n) in lengths.enumerated() {
            for q in 0..<queries {
                let row = t.floats + (r * queries + q) * total
                for j in 0..<total { row[j] = j >= n && j < width ? 0 : 1 }
            }
        }
        return t
    }
}
