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
///  `position(counter)`. Per step: logits → top_k_logits → log-softmax (float32) → min length / no-repeat
///  n-gram constraints → + running beam score → the 2·num_beams best (or sampled) candidates of the
///  flattened [beams × V] scores, sorted → `BeamSearchScorer.process` → the caches follow the surviving
///  beams. The loop ends at `maxLength` steps or when the scorer is done; `finalize` picks the best.
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
        let k = options.numBeams
        var generator = SeededGenerator(seed: seed)
        var scorer = BeamSearchScorer(numBeams: k, lengthPenalty: options.lengthPenalty,
                                      earlyStopping: options.earlyStopping, endTokens: endTokens)
        guard let first = try backend.feed(ids: [[sop]], positions: [[position(0)]], mask: .sep([0]), logits: true) else {
            throw GenerationError.badInput("no logits from the sop step")
        }
        let vocab = first.shape[2]
        try backend.select(rows: Array(repeating: 0, count: k))
        var beamScores = [Float](repeating: -1e9, count: k)
        beamScores[0] = 0
        var tokens = [[Int]](repeating: [], count: k)
        var logits = first
        var counter = 0
        var scores = [Float](repeating: 0, count: k * vocab)
        var row = [Float](repeating: 0, count: vocab)
        while counter < maxLength {
            if isCancelled?() == true { throw GenerationError.cancelled }
            if counter > 0 {
                let fed = tokens.map { [$0.last!] }
                guard let l = try backend.feed(ids: fed, positions: Array(repeating: [position(counter)], count: k),
                                               mask: .sep([0]), logits: true) else {
                    throw GenerationError.badInput("no logits at beam step \(counter)")
                }
                logits = l
            }
            if let onStepLogits {
                onStepLogits(counter, UnsafeBufferPointer(start: logits.floats, count: vocab))
            }
            for b in 0..<k {
                let source = logits.floats + (counter == 0 ? 0 : b) * vocab
                for i in 0..<vocab { row[i] = i < vocabularyLimit ? source[i] : -.infinity }
                if options.topK > 0 || options.topP > 0 {
                    LogitsProcessing.topKLogits(&row, topK: options.topK, topP: options.topP)
                }
                try scores.withUnsafeMutableBufferPointer { s in
                    guard let base = s.baseAddress else { throw GenerationError.badInput("empty vocabulary") }
                    let out = base + b * vocab
                    row.withUnsafeBufferPointer { LogitsProcessing.logSoftmax($0.baseAddress!, count: vocab, into: out) }
                    LogitsProcessing.applyConstraints(out, count: vocab, generated: tokens[b], endTokens: endTokens,
                                                      minLength: minLength, noRepeatNGram: noRepeatNGramSize)
                    let add = beamScores[b]
                    for i in 0..<vocab { out[i] += add }
                }
            }
            let picked: [Int]
            if options.selectTopK {
                picked = Self.largest(scores, count: 2 * k)
            } else {
                picked = LogitsProcessing.sampleWithoutReplacement(scores: scores, count: 2 * k, generator: &generator)
            }
            var candidates = Self.sortedCandidates(picked, scores: scores, vocab: vocab)
            if Self.continuing(candidates, endTokens: endTokens) < k {
                // More end tokens than the original can handle (it raises): widen the list until num_beams
                // candidates continue. Only reachable with several end tokens.
                let wider = Self.largest(scores, count: min(scores.count, 2 * k + endTokens.count * k))
                candidates = Self.sortedCandidates(wider, scores: scores, vocab: vocab)
            }
            let next = try scorer.process(step: counter, beamTokens: tokens, candidates: candidates)
            tokens = next.map { tokens[$0.beam] + [$0.token] }
            beamScores = next.map(\.score)
            try backend.select(rows: next.map(\.beam))
            scorer.trace.stepsRun += 1
            if scorer.isDone { break }
            counter += 1
        }
        guard let best = scorer.finalize(step: counter, beamTokens: tokens, beamScores: beamScores) else {
            throw GenerationError.badInput("beam search produced no hypothesis")
        }
        return BeamSearchResult(ids: best.ids, score: best.score, endedWithEndToken: !best.viaFinalize, trace: scorer.trace)
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
