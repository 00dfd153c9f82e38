import Foundation

/// The n best finished hypotheses of one beam search, as the original's `BeamHypotheses`
/// (generation_utils.py). Scores are Python floats: float64 division of the float32 sum of
/// log-probabilities by `max(len, 1) ** length_penalty`, where len counts the generated tokens
/// WITHOUT the end token (and without sop).
struct BeamHypotheses {
    struct Hypothesis {
        var score: Double
        var ids: [Int]
        var sumLogProbs: Float
        /// Added by `finalize` (a running beam at the length limit) rather than by an end token.
        var viaFinalize = false
    }

    let numBeams: Int
    let lengthPenalty: Double
    let earlyStopping: Bool
    /// In insertion order (the order matters for ties, as in the original's list).
    private(set) var beams: [Hypothesis] = []
    private(set) var worstScore = 1e9

    init(numBeams: Int, lengthPenalty: Double, earlyStopping: Bool) {
        self.numBeams = numBeams
        self.lengthPenalty = lengthPenalty
        self.earlyStopping = earlyStopping
    }

    var count: Int { beams.count }

    func score(sumLogProbs: Float, length: Int) -> Double {
        Double(sumLogProbs) / Foundation.pow(Double(max(length, 1)), lengthPenalty)
    }

    /// `BeamHypotheses.add`: keeps the hypothesis if the list has room or it beats the worst; on overflow
    /// the worst (lowest score, earliest on ties) is removed and the worst score becomes the second lowest.
    /// Returns whether it was kept.
    @discardableResult
    mutating func add(_ ids: [Int], sumLogProbs: Float, viaFinalize: Bool = false) -> Bool {
        let s = score(sumLogProbs: sumLogProbs, length: ids.count)
        guard beams.count < numBeams || s > worstScore else { return false }
        beams.append(Hypothesis(score: s, ids: ids, sumLogProbs: sumLogProbs, viaFinalize: viaFinalize))
        if beams.count > numBeams {
            let sorted = beams.indices.map { (beams[$0].score, $0) }.sorted { $0 < $1 }
            beams.remove(at: sorted[0].1)
            worstScore = sorted[1].0
        } else {
            worstScore = min(s, worstScore)
        }
        return true
    }

    /// `BeamHypotheses.is_done`: no running beam can still beat the worst kept hypothesis. The test is
    /// `worst >= best / cur_len ** penalty` with `>=` (a just-added hypothesis compared with itself stops).
    func isDone(bestSumLogProbs: Float, currentLength: Int) -> Bool {
        if beams.count < numBeams { return false }
        if earlyStopping { return true }
        let current = Double(bestSumLogProbs) / Foundation.pow(Double(currentLength), lengthPenalty)
        return worstScore >= current
    }

    /// The best hypothesis: the original sorts by score (stable) and pops the last, so among equal best
    /// scores the one added last wins.
    var best: Hypothesis? {
        var bestIndex: Int? = nil
        for i in beams.indices where bestIndex == nil || beams[i].score >= beams[bestIndex!].score { bestIndex = i }
        return bestIndex.map { beams[$0] }
    }
}

/// One candidate continuation: beam `beam` extended by `token`, with the running score after it.
struct BeamCandidate {
    var token: Int
    var beam: Int
    var score: Float
}

/// What happened inside one beam search, for tests and debugging (mirrors the fixtures' `scorer_trace`).
public struct BeamSearchTrace: Sendable, Equatable {
    public struct Added: Sendable, Equatable {
        /// 0-based decoding step of the add (`maxLength` for hypotheses added by `finalize`).
        public var step: Int
        public var viaFinalize: Bool
        public var ids: [Int]
        public var lengthForPenalty: Int
        public var sumLogProbs: Float
        public var score: Double
        public var kept: Bool
    }
    public var added: [Added] = []
    /// Decoding steps run (forward passes including the sop step).
    public var stepsRun = 0
    /// The search stopped because `is_done` became true (then `finalize` adds no running beams).
    public var stoppedByIsDone = false
}

/// The original's `BeamSearchScorer` for one source (batch_size 1): `process` turns the sorted
/// 2·num_beams candidates of a step into the next beams and finished hypotheses, `finalize` adds the
/// running beams when the length limit ends the search.
struct BeamSearchScorer {
    var hypotheses: BeamHypotheses
    let numBeams: Int
    let endTokens: Set<Int>
    private(set) var isDone = false
    var trace = BeamSearchTrace()

    init(numBeams: Int, lengthPenalty: Double, earlyStopping: Bool, endTokens: [Int]) {
        self.numBeams = numBeams
        self.endTokens = Set(endTokens)
        hypotheses = BeamHypotheses(numBeams: numBeams, lengthPenalty: lengthPenalty, earlyStopping: earlyStopping)
    }

    /// `process`: walks the candidates best first. An end token ranked within the top num_beams finishes
    /// its beam's hypothesis (the ids so far, without the end token); an end token ranked lower is
    /// ignored; any other token continues a beam until num_beams beams are filled. Then `is_done` is
    /// checked with the best candidate score and the current length (tokens generated before this step).
    /// - Returns: the next beams (token, source beam, running score), exactly `numBeams` of them.
    mutating func process(step: Int, beamTokens: [[Int]], candidates: [BeamCandidate]) throws -> [BeamCandidate] {
        precondition(!isDone, "process called after the search was done")
        var next: [BeamCandidate] = []
        for (rank, c) in candidates.enumerated() {
            if endTokens.contains(c.token) {
                if rank >= numBeams { continue }
                let ids = beamTokens[c.beam]
                let s = hypotheses.score(sumLogProbs: c.score, length: ids.count)
                let kept = hypotheses.add(ids, sumLogProbs: c.score)
                trace.added.append(.init(step: step, viaFinalize: false, ids: ids, lengthForPenalty: max(ids.count, 1),
                                         sumLogProbs: c.score, score: s, kept: kept))
            } else {
                next.append(c)
            }
            if next.count == numBeams { break }
        }
        guard next.count == numBeams else {
            throw GenerationError.badInput("beam search: only \(next.count) of the \(candidates.count) candidates continue a beam (need \(numBeams))")
        }
        let best = candidates.map(\.score).max() ?? -.infinity
        isDone = isDone || hypotheses.isDone(bestSumLogProbs: best, currentLength: beamTokens.first?.count ?? 0)
        return next
    }

    /// `finalize`: unless the search is done, every running beam (its tokens and running score) is
    /// offered to the hypotheses; then the best hypothesis wins.
    mutating func finalize(step: Int, beamTokens: [[Int]], beamScores: [Float]) -> BeamHypotheses.Hypothesis? {
        if !isDone {
            for b in 0..<numBeams {
                let ids = beamTokens[b]
                let s = hypotheses.score(sumLogProbs: beamScores[b], length: ids.count)
                let kept = hypotheses.add(ids, sumLogProbs: beamScores[b], viaFinalize: true)
                trace.added.append(.init(step: step, viaFinalize: true, ids: ids, lengthForPenalty: max(ids.count, 1),
                                         sumLogProbs: beamScores[b], score: s, kept: kept))
            }
        }
        trace.stoppedByIsDone = isDone
        return hypotheses.best
    }
}
