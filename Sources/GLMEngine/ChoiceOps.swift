import Foundation

/// The training losses over per-choice scores that the original's `finetune_glm.py finetune_forward_step`
/// offers (`--loss-func`, plus the separate `--adapet` flag).
///
/// Notation: scores s [B, C] (one row per sample, one column per choice / label), labels y [B], an
/// optional choice mask m [B, C] (1 = real choice, 0 = a padding copy). Except for `adapet`, the scores
/// are first masked as the original does: s·m − 10000·(1 − m).
public enum ChoiceLossFunction: String, CaseIterable, Sendable {
    /// `torch.nn.CrossEntropyLoss` over the (masked) scores, mean over the batch.
    case crossEntropy = "cross_entropy"
    /// Σ_c max(0, 1 + s_c − s_y) averaged over the batch, minus 1 (the label's own term is 1).
    case hinge
    /// −mean_b s_y: the label's score alone.
    case generative
    /// generative + cross entropy (WSC with `--wsc-negative`).
    case mix
    /// `--adapet` (overrides `--loss-func`): Σ_c s_c·(c == y ? −1 : +1)·m_c / B on the UNMASKED scores.
    case adapet
}

extension Tape {
    /// y [N, K]: per row n of x [..., V] (N rows of the last dimension), the entries at `indices[n]`
    /// (K per row), of x itself or of log_softmax(x[n]) when `logSoftmax`. The cloze models' score
    /// pick: verbalizer logits at the `sop` position, or target log-probabilities at answer positions.
    /// The log-sum-exp is accumulated in float64; the output is float32.
    public func pickColumns(_ x: Variable, indices: [[Int]], logSoftmax: Bool = false) throws -> Variable {
        let op = "pickColumns"
        let started = profileStart()
        try checkFloat(x, op, "x")
        let v = x.shape.last ?? 0
        let n = v == 0 ? 0 : x.value.count / v
        try check(indices.count == n, op, "\(indices.count) index rows for \(n) rows of x \(x.shape)")
        let k = indices.first?.count ?? 0
        for (r, row) in indices.enumerated() {
            try check(row.count == k, op, "index row \(r) has \(row.count) entries, row 0 has \(k)")
            for i in row where i < 0 || i >= v {
                throw EngineError.idOutOfRange(op: op, message: "index row \(r) holds \(i), rows have \(v) columns")
            }
        }
        let xp = x.value.floats
        var lse = [Double](repeating: 0, count: logSoftmax ? n : 0)
        let y = Tensor(uninitialized: [n, k])
        for r in 0..<n {
            let row = xp + r * v
            var shift = 0.0
            if logSoftmax {
                var m = -Double.infinity
                for j in 0..<v { m = max(m, Double(row[j])) }
                var z = 0.0
                for j in 0..<v { z += exp(Double(row[j]) - m) }
                shift = m + log(z)
                lse[r] = shift
            }
            for (c, i) in indices[r].enumerated() { y.floats[r * k + c] = Float(Double(row[i]) - shift) }
        }
        return output(y, op, inputs: [x], started: started, detail: "\(n)×\(v)→\(k)",
                      work: .floats(n * v, passes: logSoftmax ? 2 : 0)) { _, dy in
            let dp = dy.floats
            if logSoftmax {
                // d x[r, j] = Σ_c dy[r, c]·(1[j == i_c] − softmax_j)
                x.writeGrad { g in
                    for r in 0..<n {
                        var total = 0.0
                        for c in 0..<k { total += Double(dp[r * k + c]) }
                        let row = xp + r * v, out = g + r * v
                        for j in 0..<v { out[j] = Float(-total * exp(Double(row[j]) - lse[r])) }
                        for (c, i) in indices[r].enumerated() { out[i] += dp[r * k + c] }
                    }
                }
            } else {
                let g = x.zeroedGrad().floats
                for r in 0..<n { for (c, i) in indices[r].enumerated() { g[r * v + i] += dp[r * k + c] } }
            }
        }
    }

    /// y (shape `shape`): y.flat[j] = Σ_(i, w) ∈ terms[j] w·x.flat[i] (float64 accumulation). Gathers
    /// per-token values into per-row sums with weights (a logit mask divided by a length penalty), and
    /// rows into a [samples, choices] grid (a padding choice repeats the terms of choice 0).
    public func weightedGather(_ x: Variable, terms: [[(index: Int, weight: Double)]], shape: [Int]) throws -> Variable {
        let op = "weightedGather"
        let started = profileStart()
        try checkFloat(x, op, "x")
        try check(shape.reduce(1, *) == terms.count, op, "shape \(shape) for \(terms.count) outputs")
        let count = x.value.count
        for (j, t) in terms.enumerated() {
            for (i, _) in t where i < 0 || i >= count {
                throw EngineError.idOutOfRange(op: op, message: "output \(j) reads element \(i) of x \(x.shape)")
            }
        }
        let xp = x.value.floats
        let y = Tensor(uninitialized: shape)
        for (j, t) in terms.enumerated() {
            var s = 0.0
            for (i, w) in t { s += w * Double(xp[i]) }
            y.floats[j] = Float(s)
        }
        return output(y, op, inputs: [x], started: started, detail: "\(x.shape)→\(shape)") { _, dy in
            let g = x.zeroedGrad().floats
            for (j, t) in terms.enumerated() {
                let d = Double(dy.floats[j])
                for (i, w) in t { g[i] += Float(w * d) }
            }
        }
    }

    /// The scalar training loss of `function` over choice scores [B, C] (see `ChoiceLossFunction`), as
    /// `finetune_forward_step` computes it; `choiceMask` [B][C] (1/0) is the collate's `loss_mask` of a
    /// task with a variable number of choices (nil: every choice is real). Computed in float64, returned
    /// as a float32 scalar; backward gives d loss / d scores.
    public func choiceLoss(_ scores: Variable, labels: [Int], choiceMask: [[Float]]? = nil,
                           function: ChoiceLossFunction) throws -> Variable {
        let op = "choiceLoss"
        let started = profileStart()
        try checkFloat(scores, op, "scores")
        try check(scores.value.rank == 2, op, "scores must be [batch, choices], got \(scores.shape)")
        let b = scores.shape[0], c = scores.shape[1]
        try check(b > 0 && c > 0, op, "empty scores \(scores.shape)")
        try check(labels.count == b, op, "\(labels.count) labels for \(b) samples")
        for (i, l) in labels.enumerated() where l < 0 || l >= c {
            throw EngineError.invalidArgument(op: op, message: "label \(l) of sample \(i) is not one of \(c) choices")
        }
        if let choiceMask {
            try check(choiceMask.count == b && choiceMask.allSatisfy { $0.count == c }, op,
                      "choice mask must be [\(b)][\(c)]")
        }
        let raw = (0..<(b * c)).map { Double(scores.value.floats[$0]) }
        let mask = (0..<(b * c)).map { i in Double(choiceMask.map { $0[i / c][i % c] } ?? 1) }
        let (loss, dMasked) = Self.choiceLossValue(raw: raw, mask: mask, labels: labels, b: b, c: c, function: function)
        // The masking s·m − 10000(1 − m) scales the gradient by m (adapet reads the raw scores).
        let dRaw = function == .adapet ? dMasked : zip(dMasked, mask).map { $0 * $1 }
        return output(Tensor(scalar: Float(loss)), op, inputs: [scores], started: started, detail: "\(b)×\(c) \(function.rawValue)") { _, dy in
            let up = Double(dy.floats[0])
            scores.writeGrad { g in for i in 0..<(b * c) { g[i] = Float(up * dRaw[i]) } }
        }
    }

    /// The loss and its gradient with respect to the MASKED scores (adapet: the raw scores).
    static func choiceLossValue(raw: [Double], mask: [Double], labels: [Int], b: Int, c: Int,
                                function: ChoiceLossFunction) -> (Double, [Double]) {
        let s = zip(raw, mask).map { $0 * $1 - 10000 * (1 - $1) }
        var loss = 0.0
        var d = [Double](repeating: 0, count: b * c)
        let inv = 1 / Double(b)
        func crossEntropy() {
            for r in 0..<b {
                let row = s[(r * c)..<((r + 1) * c)]
                let m = row.max()!
                let z = row.reduce(0) { $0 + exp($1 - m) }
                loss += (m + log(z) - s[r * c + labels[r]]) * inv
                for j in 0..<c { d[r * c + j] += exp(s[r * c + j] - m) / z * inv }
                d[r * c + labels[r]] -= inv
            }
        }
        func generative() {
            for r in 0..<b {
                loss -= s[r * c + labels[r]] * inv
                d[r * c + labels[r]] -= inv
            }
        }
        switch function {
        case .crossEntropy: crossEntropy()
        case .generative: generative()
        case .mix: generative(); crossEntropy()
        case .hinge:
            for r in 0..<b {
                let correct = s[r * c + labels[r]]
                for j in 0..<c {
                    let h = 1 + s[r * c + j] - correct
                    // torch zeroes h < 0 in place: those entries carry no gradient; h == 0 does.
                    guard h >= 0 else { continue }
                    loss += h * inv
                    d[r * c + j] += inv
                    d[r * c + labels[r]] -= inv
                }
            }
            loss -= 1
        case .adapet:
            for r in 0..<b {
                for j in 0..<c {
                    let w = (j == labels[r] ? -1.0 : 1.0) * mask[r * c + j]
                    loss += raw[r * c + j] * w * inv
                    d[r * c + j] = w * inv
                }
            }
        }
        return (loss, d)
    }
}
