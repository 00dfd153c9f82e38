// `pickColumns` over logits split along the vocabulary (tensor model parallelism): the cloze scores of
// fine-tuning (verbalizer logits, target log-probabilities) and the target logits of the seq2seq loss's
// label smoothing, when each rank holds only its columns of the [n, V] logits.
import Foundation

/// Picked logits and the rows' log-Σ-exp of logits split over a model-parallel group: what
/// `Tape.pickColumns` reads from whole rows, assembled from every rank's columns.
public struct VocabParallelPicks {
    /// Per row, the full-vocabulary logits at the asked columns (float64, exact: one rank owns each column).
    public var values: [[Double]]
    /// Per row, log Σ_j exp(logit_j) over the WHOLE vocabulary, accumulated in float64 as `pickColumns`;
    /// empty unless asked for.
    public var logSumExp: [Double]

    /// Collective over `group`: every rank passes its columns `rank·V/M ..< (rank+1)·V/M` of the same rows
    /// (`logits`: [n, V/M]) and the same full-vocabulary `columns` per row (any count per row).
    /// One max and one float64 sum over the group (the log-Σ-exp partial sums together with the picks,
    /// which only the owning rank contributes, the others adding zero).
    public static func gather(_ logits: Tensor, columns: [[Int]], logSumExp wanted: Bool,
                              group: any ModelParallelCollectives) throws -> VocabParallelPicks {
        let local = logits.shape.last ?? 0
        let n = local == 0 ? 0 : logits.count / local
        let first = group.rank * local, vocab = local * group.size
        guard columns.count == n else {
            throw EngineError.shapeMismatch(op: "vocabParallelPick", message: "\(columns.count) column lists for \(n) rows of \(logits.shape)")
        }
        for (r, row) in columns.enumerated() {
            for c in row where c < 0 || c >= vocab {
                throw EngineError.idOutOfRange(op: "vocabParallelPick", message: "row \(r) asks for column \(c), the vocabulary has \(vocab)")
            }
        }
        let x = logits.floats
        var maxima = [Float](repeating: -.infinity, count: wanted ? n : 0)
        if wanted {
            for r in 0..<n { for j in 0..<local { maxima[r] = max(maxima[r], x[r * local + j]) } }
            try maxima.withUnsafeMutableBufferPointer { try group.allReduceMax($0) }
        }
        // [Σ_j exp(x_j − m) for each row (when wanted)] then every row's picks.
        var sums = [Double](repeating: 0, count: (wanted ? n : 0) + columns.reduce(0) { $0 + $1.count })
        var k = wanted ? n : 0
        for r in 0..<n {
            if wanted {
                var z = 0.0
                for j in 0..<local { z += exp(Double(x[r * local + j]) - Double(maxima[r])) }
                sums[r] = z
            }
            for c in columns[r] {
                if c >= first && c < first + local { sums[k] = Double(x[r * local + c - first]) }
                k += 1
            }
        }
        try sums.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
        var values: [[Double]] = [], at = wanted ? n : 0
        for row in columns { values.append(Array(sums[at..<(at + row.count)])); at += row.count }
        let lse = wanted ? (0..<n).map { Double(maxima[$0]) + log(sums[$0]) } : []
        return VocabParallelPicks(values: values, logSumExp: lse)
    }
}

extension Tape {
    /// `pickColumns` when x [..., V/M] holds this rank's vocabulary columns of the whole [..., V] rows:
    /// y [N, K] equals what one process's `pickColumns` gives on the whole rows (replicated on every rank).
    /// `indices` are full-vocabulary columns. Backward (dy is replicated, as every op after this one runs
    /// alike on every rank): each rank writes its own columns of
    /// d x[r, j] = Σ_c dy[r, c]·(1[j == i_c] − (logSoftmax ? softmax_j : 0)), with the global log-Σ-exp, so
    /// the gradients of the rank's word-embedding rows are exactly one process's.
    public func vocabParallelPickColumns(_ x: Variable, indices: [[Int]], logSoftmax: Bool = false,
                                         group: any ModelParallelCollectives) throws -> Variable {
        let op = "vocabParallelPickColumns"
        let started = profileStart()
        try checkFloat(x, op, "x")
        let local = x.shape.last ?? 0, first = group.rank * local
        let n = local == 0 ? 0 : x.value.count / local
        let k = indices.first?.count ?? 0
        for (r, row) in indices.enumerated() { try check(row.count == k, op, "index row \(r) has \(row.count) entries, row 0 has \(k)") }
        let picks = try VocabParallelPicks.gather(x.value, columns: indices, logSumExp: logSoftmax, group: group)
        let y = Tensor(uninitialized: [n, k])
        for r in 0..<n {
            let shift = logSoftmax ? picks.logSumExp[r] : 0
            for c in 0..<k { y.floats[r * k + c] = Float(picks.values[r][c] - shift) }
        }
        let xp = x.value.floats, lse = picks.logSumExp
        return output(y, op, inputs: [x], started: started, detail: "\(n)×\(local)→\(k)",
                      work: .floats(n * local, passes: logSoftmax ? 2 : 0)) { _, dy in
            let dp = dy.floats
            func addPicks(_ g: UnsafeMutablePointer<Float>) {
                for r in 0..<n {
                    for (c, i) in indices[r].enumerated() where i >= first && i < first + local { g[r * local + i - first] += dp[r * k + c] }
                }
            }
            if logSoftmax {
                x.writeGrad { g in
                    for r in 0..<n {
                        var total = 0.0
                        for c in 0..<k { total += Double(dp[r * k + c]) }
                        for j in 0..<local { g[r * local + j] = Float(-total * exp(Double(xp[r * local + j]) - lse[r])) }
                    }
                    addPicks(g)
                }
            } else {
                addPicks(x.zeroedGrad().floats)
            }
        }
    }
}
