import CGLMKernels

/// The ops of continuous prompts (P-tuning): the MLP head's ReLU and the replacement of input-embedding
/// rows by encoded prompt rows (the original's `embeddings[batch_index, prompt_pos] = prompt_embeds`).
extension Tape {
    /// y = max(x, 0); backward passes dy where x > 0.
    public func relu(_ x: Variable) throws -> Variable {
        let op = "relu"
        let started = profileStart()
        try checkFloat(x, op, "input")
        let n = x.value.count
        let y = Tensor(uninitialized: x.shape)
        let xs = x.value.floats, ys = y.floats
        for i in 0..<n { ys[i] = xs[i] > 0 ? xs[i] : 0 }
        return output(y, op, inputs: [x], started: started, detail: "\(x.shape)", work: .floats(n, passes: 2),
                      backwardWork: .floats(n, passes: 3)) { _, dy in
            let xs = x.value.floats, d = dy.floats
            x.writeGrad { g in for i in 0..<n { g[i] = xs[i] > 0 ? d[i] : 0 } }
        }
    }

    /// y = x [R, C] with row `rows[k]` replaced by `source[sourceRows[k]]` ([S, C]) for every k.
    /// Backward: x gets dy with the replaced rows zeroed; `source` row `sourceRows[k]` gets dy row `rows[k]`
    /// added (a source row used by several batch rows accumulates all of them).
    /// `rows` must be distinct; both index lists have the same length.
    public func overwriteRows(_ x: Variable, rows: [Int], source: Variable, sourceRows: [Int]) throws -> Variable {
        let op = "overwriteRows"
        let started = profileStart()
        try checkFloat(x, op, "input"); try checkFloat(source, op, "source")
        try check(x.value.rank == 2 && source.value.rank == 2 && x.shape[1] == source.shape[1], op,
                  "input \(x.shape) and source \(source.shape) must be [R, C] and [S, C]")
        try check(rows.count == sourceRows.count, op, "\(rows.count) rows but \(sourceRows.count) source rows")
        let r = x.shape[0], s = source.shape[0], c = x.shape[1]
        guard rows.allSatisfy({ (0..<r).contains($0) }), sourceRows.allSatisfy({ (0..<s).contains($0) }) else {
            throw EngineError.idOutOfRange(op: op, message: "row index outside [0, \(r)) or source row outside [0, \(s))")
        }
        try check(Set(rows).count == rows.count, op, "rows must be distinct")
        let y = x.value.copy()
        for (k, row) in rows.enumerated() {
            (y.floats + row * c).update(from: source.value.floats + sourceRows[k] * c, count: c)
        }
        return output(y, op, inputs: [x, source], started: started, detail: "\(x.shape) ← \(rows.count) rows",
                      work: .floats(x.value.count, passes: 2), backwardWork: .floats(x.value.count, passes: 2)) { _, dy in
            if x.requiresGrad {
                x.writeGrad { g in
                    g.update(from: dy.floats, count: r * c)
                    for row in rows { (g + row * c).update(repeating: 0, count: c) }
                }
            }
            if source.requiresGrad {
                let g = source.zeroedGrad().floats
                for (k, row) in rows.enumerated() {
                    glmk_add_inplace(g + sourceRows[k] * c, dy.floats + row * c, c)
                }
            }
        }
    }
}
