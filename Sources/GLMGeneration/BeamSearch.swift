import GLMEngine
import GLM

/// The outcome of one beam search.
public struct BeamSearchResult: Sendable, Equatable {
    /// The best hypothesis: the generated ids, without sop and without the end token.
    public var ids: [Int]
    /// Its length-penalised score.
    public var score: Double
    /// Whether it ended with an end token (false: a running beam added at the length limit).
    public var endedWithEndToken: Bool
    public var trace: BeamSearchTrace
}

/// The decoding loop of `tasks/seq2seq/evaluate.py DecoderEvaluater.evaluate`, on a backend that holds
/// one row with the context (everything before `sop`):
///  step 0 feeds `sop` at `position(0)` on one row; its log-softmax is the same for all num_beams beams,
///  whose running scores start as [0, −1e9, …]; every later step feeds each beam's last token at
///  `position(counter)`. Per step (`BeamSearchState.step`): logits → top_k_logits → log-softmax (float32)
///  → min length / no-repeat n-gram constraints → + running beam score → the 2·num_beams best (or
///  sampled) candidates of the flattened [beams × V] scores, sorted → `BeamSearchScorer.process` → the
///  caches follow the surviving beams. The loop ends at `maxLength` steps or when the scorer is done;
///  `finalize` picks the best. `BatchedBeamSearch` drives the same per-source state for many sources.
struct BeamSearchLoop {
    let options: BeamSearchOptions
    let maxLength: Int
    let minLength: Int
    let noRepeatNGramSize: Int
    let sop: Int
    let endTokens: [Int]
    /// Ids ≥ this limit are never chosen (the padded vocabulary when unrestricted).
    let vocabularyLimit: Int
    var seed: UInt64 = 0

    func run(backend: DecodingBackend, position: (Int) -> TokenPosition,
             onStepLogits: ((Int, UnsafeBufferPointer<Float>) -> Void)? = nil,
             isCancelled: (() -> Bool)? = nil) throws -> BeamSearchResult {
        var state = BeamSearchState(loop: self)
        while !state.isFinished {
            if isCancelled?() == true { throw GenerationError.cancelled }
            let fed = state.nextTokens
            guard let logits = try backend.feed(ids: fed.map { [$0] }, positions: Array(repeating: [position(state.counter)], count: fed.count),
                                                mask: .sep([0]), logits: true) else {
                throw GenerationError.badInput("no logits at beam step \(state.counter)")
            }
            let vocab = logits.shape[2]
            onStepLogits?(state.counter, UnsafeBufferPointer(start: logits.floats, count: vocab))
            try backend.select(rows: try state.step(logits: UnsafePointer(logits.floats), vocab: vocab))
        }
        return try state.result()
    }

    static func continuing(_ candidates: [BeamCandidate], endTokens: [Int]) -> Int {
        candidates.filter { !endTokens.contains($0.token) }.count
    }

    /// Flat indices into [beams × V] → candidates sorted by score, best first (stable on ties).
    static func sortedCandidates(_ flat: [Int], scores: [Float], vocab: Int) -> [BeamCandidate] {
        flat.map { BeamCandidate(token: $0 % vocab, beam: $0 / vocab, score: scores[$0]) }
            .enumerated().sorted { $0.element.score > $1.element.score || ($0.element.score == $1.element.score && $0.offset < $1.offset) }
            .map(\.element)
    }

    /// Indices of the `count` largest values (the lower index first among equal values), best first.
    static func largest(_ values: [Float], count: Int) -> [Int] {
        // A small sorted buffer: count is 2·num_beams, the scan is one pass over beams × V.
        var best: [(Float, Int)] = []
        best.reserveCapacity(count + 1)
        for (i, v) in values.enumerated() where !v.isNaN {
            if best.count == count, let last = best.last, !(v > last.0) { continue }
            var lo = 0, hi = best.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if best[mid].0 >= v { lo = mid + 1 } else { hi = mid }
            }
            best.insert((v, i), at: lo)
            if best.count > count { best.removeLast() }
        }
        return best.map(\.1)
    }
}

/// One source's beam search between steps: its scorer, running beam scores, beam tokens and candidate
/// draws. The loop body of the original lives here once; `BeamSearchLoop.run` (one source) and
/// `BatchedBeamSearch` (many sources in one backend) feed it the logits of the source's rows.
struct BeamSearchState {
    let loop: BeamSearchLoop
    private(set) var scorer: BeamSearchScorer
    private(set) var beamScores: [Float]
    private(set) var tokens: [[Int]]
    /// The step about to run (the original's `counter`).
    private(set) var counter = 0
    /// Set when the scorer is done or `maxLength` steps have run: `result()` may be taken.
    private(set) var isFinished: Bool
    private var generator: SeededGenerator
    private var scores: [Float] = []
    private var row: [Float] = []

    init(loop: BeamSearchLoop) {
        let k = loop.options.numBeams
        self.loop = loop
        scorer = BeamSearchScorer(numBeams: k, lengthPenalty: loop.options.lengthPenalty,
                                  earlyStopping: loop.options.earlyStopping, endTokens: loop.endTokens)
        beamScores = [Float](repeating: -1e9, count: k)
        beamScores[0] = 0
        tokens = [[Int]](repeating: [], count: k)
        generator = SeededGenerator(seed: loop.seed)
        isFinished = loop.maxLength <= 0
    }

    /// The ids this source feeds at the next step, one per row it holds: `sop` on its single row at step 0,
    /// then each beam's last token.
    var nextTokens: [Int] { counter == 0 ? [loop.sop] : tokens.map { $0.last! } }

    /// One step on the logits of this source's rows (`nextTokens.count` rows of `vocab` floats from
    /// `logits`). Returns, for each surviving beam, which of those rows it continues (the backend
    /// selects them).
    mutating func step(logits: UnsafePointer<Float>, vocab: Int) throws -> [Int] {
        precondition(!isFinished, "beam search step after the end")
        let k = loop.options.numBeams
        if scores.count != k * vocab { scores = [Float](repeating: 0, count: k * vocab); row = [Float](repeating: 0, count: vocab) }
        // Step 0: all beams read the one sop row.
        let stride = counter == 0 ? 0 : vocab
        for b in 0..<k {
            let source = logits + b * stride
            for i in 0..<vocab { row[i] = i < loop.vocabularyLimit ? source[i] : -.infinity }
            if loop.options.topK > 0 || loop.options.topP > 0 {
                LogitsProcessing.topKLogits(&row, topK: loop.options.topK, topP: loop.options.topP)
            }
            try scores.withUnsafeMutableBufferPointer { s in
                guard let base = s.baseAddress else { throw GenerationError.badInput("empty vocabulary") }
                let out = base + b * vocab
                row.withUnsafeBufferPointer { LogitsProcessing.logSoftmax($0.baseAddress!, count: vocab, into: out) }
                LogitsProcessing.applyConstraints(out, count: vocab, generated: tokens[b], endTokens: loop.endTokens,
                                                  minLength: loop.minLength, noRepeatNGram: loop.noRepeatNGramSize)
                let add = beamScores[b]
                for i in 0..<vocab { out[i] += add }
            }
        }
        let picked: [Int]
        if loop.options.selectTopK {
            picked = BeamSearchLoop.largest(scores, count: 2 * k)
        } else {
            picked = LogitsProcessing.sampleWithoutReplacement(scores: scores, count: 2 * k, generator: &generator)
        }
        var candidates = BeamSearchLoop.sortedCandidates(picked, scores: scores, vocab: vocab)
        if BeamSearchLoop.continuing(candidates, endTokens: loop.endTokens) < k {
            // More end tokens than the original can handle (it raises): widen the list until num_beams
            // candidates continue. Only reachable with several end tokens.
            let wider = BeamSearchLoop.largest(scores, count: min(scores.count, 2 * k + loop.endTokens.count * k))
            candidates = BeamSearchLoop.sortedCandidates(wider, scores: scores, vocab: vocab)
        }
        let next = try scorer.process(step: counter, beamTokens: tokens, candidates: candidates)
        tokens = next.map { tokens[$0.beam] + [$0.token] }
        beamScores = next.map(\.score)
        scorer.trace.stepsRun += 1
        let first = counter == 0
        let rows = next.map { first ? 0 : $0.beam }
        if scorer.isDone {
            isFinished = true
        } else {
            counter += 1
            isFinished = counter >= loop.maxLength
        }
        return rows
    }

    /// The best hypothesis (`finalize` at the step the search stopped).
    func result() throws -> BeamSearchResult {
        var scorer = scorer
        guard let best = scorer.finalize(step: counter, beamTokens: tokens, beamScores: beamScores) else {
            throw GenerationError.badInput("beam search produced no hypothesis")
        }
        return BeamSearchResult(ids: best.ids, score: best.score, endedWithEndToken: !best.viaFinalize, trace: scorer.trace)
    }
}
