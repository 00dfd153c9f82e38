import CGLMKernels

extension Tape {
    /// y = a + b (same shape): residual connections.
    public func add(_ a: Variable, _ b: Variable) throws -> Variable {
        let started = profileStart()
        try checkFloat(a, "add", "a"); try checkFloat(b, "add", "b")
        try check(a.shape == b.shape, "add", "shapes differ: \(a.shape) vs \(b.shape)")
        let y = Tensor(uninitialized: a.shape)
        glmk_add(y.floats, a.value.floats, b.value.floats, y.count)
        let n = y.count, grads = [a, b].filter(\.requiresGrad).count
        return output(y, "add", inputs: [a, b], started: started, detail: "\(a.shape)", work: .floats(n, passes: 3),
                      backwardWork: .floats(n, passes: 2 * grads)) { _, dy in
            for v in [a, b] where v.requiresGrad {
                let (g, acc) = v.gradTarget()
                if acc { glmk_add_inplace(g.floats, dy.floats, g.count) } else { try g.copy(from: dy) }
            }
        }
    }

    /// y [..., C] = x [..., C] + bias [C].
    public func biasAdd(_ x: Variable, _ bias: Variable) throws -> Variable {
        let started = profileStart()
        try checkFloat(x, "biasAdd", "x"); try checkFloat(bias, "biasAdd", "bias")
        let c = bias.value.count
        try check(bias.value.rank == 1 && x.shape.last == c, "biasAdd", "bias \(bias.shape) does not match x \(x.shape)")
        let y = x.value.copy()
        let rows = y.count / max(c, 1)
        glmk_bias_add(y.floats, bias.value.floats, rows, c)
        return output(y, "biasAdd", inputs: [x, bias], started: started, detail: "\(x.shape)",
                      work: .floats(y.count, passes: 4), backwardWork: .floats(y.count, passes: 3)) { _, dy in
            if x.requiresGrad {
                let (g, acc) = x.gradTarget()
                if acc { glmk_add_inplace(g.floats, dy.floats, g.count) } else { try g.copy(from: dy) }
            }
            if bias.requiresGrad { glmk_bias_backward(bias.zeroedGrad().floats, dy.floats, rows, c) }
        }
    }

    /// y = s·x.
    public func scale(_ x: Variable, _ s: Float) throws -> Variable {
        let started = profileStart()
        try checkFloat(x, "scale", "x")
        let y = x.value.copy()
        glmk_scale_inplace(y.floats, s, y.count)
        return output(y, "scale", inputs: [x], started: started, detail: "\(x.shape)", work: .floats(y.count, passes: 4),
                      backwardWork: .floats(y.count, passes: 3)) { _, dy in
            let (g, acc) = x.gradTarget()
            if acc {
                let t = dy.copy()
                glmk_scale_inplace(t.floats, s, t.count)
                glmk_add_inplace(g.floats, t.floats, g.count)
            } else {
                try g.copy(from: dy)
                glmk_scale_inplace(g.floats, s, g.count)
            }
        }
    }

    /// tanh-GELU with GLM's constants: 0.5·x·(1 + tanh(0.7978845608028654·x·(1 + 0.044715·x²))).
    public func gelu(_ x: Variable) throws -> Variable {
        let started = profileStart()
        try checkFloat(x, "gelu", "x")
        let y = Tensor(uninitialized: x.shape)
        glmk_gelu_forward(y.floats, x.value.floats, y.count)
        return output(y, "gelu", inputs: [x], started: started, detail: "\(x.shape)", work: .floats(y.count, passes: 2),
                      backwardWork: .floats(y.count, passes: 3)) { _, dy in
            x.writeGrad { glmk_gelu_backward($0, dy.floats, x.value.floats, dy.count) }
        }
    }

    /// LayerNorm over the last dimension: y = (x − mean)·rstd·weight + bias, rstd = 1/sqrt(var + eps).
    /// Saves mean and rstd per row for the backward pass.
    public func layerNorm(_ x: Variable, weight: Variable, bias: Variable, eps: Float = 1e-5) throws -> Variable {
        let op = "layerNorm"
        let started = profileStart()
        try checkFloat(x, op, "x"); try checkFloat(weight, op, "weight"); try checkFloat(bias, op, "bias")
        let c = x.shape.last ?? 0
        try check(x.value.rank >= 1 && weight.shape == [c] && bias.shape == [c], op,
                  "x \(x.shape), weight \(weight.shape), bias \(bias.shape): weight and bias must be [\(c)]")
        let rows = x.value.count / max(c, 1)
        let y = Tensor(uninitialized: x.shape)
        let record = needsGrad([x, weight, bias])
        let mean = record ? Tensor(uninitialized: [rows]) : nil
        let rstd = record ? Tensor(uninitialized: [rows]) : nil
        glmk_layernorm_forward(y.floats, mean?.floats, rstd?.floats, x.value.floats, weight.value.floats,
                               bias.value.floats, rows, c, eps)
        return output(y, op, inputs: [x, weight, bias], started: started, detail: "\(x.shape)",
                      work: .floats(y.count, passes: 2), backwardWork: .floats(y.count, passes: 3)) { _, dy in
            let mean = mean!, rstd = rstd!
            // dw and db accumulate in the kernel; use scratch when a side needs no gradient.
            let dw = weight.requiresGrad ? weight.zeroedGrad() : Tensor(zeros: [c])
            let db = bias.requiresGrad ? bias.zeroedGrad() : Tensor(zeros: [c])
            if x.requiresGrad {
                x.writeGrad {
                    glmk_layernorm_backward($0, dw.floats, db.floats, dy.floats, x.value.floats, weight.value.floats,
                                            mean.floats, rstd.floats, rows, c)
                }
            } else {
                let scratch = Tensor(uninitialized: x.shape)
                glmk_layernorm_backward(scratch.floats, dw.floats, db.floats, dy.floats, x.value.floats,
                                        weight.value.floats, mean.floats, rstd.floats, rows, c)
            }
        }
    }

    /// Inverted dropout with probability `p` (identity — and no copy — when not training or p == 0).
    /// The mask comes from the counter-based Philox stream (dropoutSeed, dropoutOffset), so it is the same
    /// for any thread count; each call takes the next `count` counters of the stream.
    public func dropout(_ x: Variable, p: Float) throws -> Variable {
        guard p >= 0, p < 1 else { throw EngineError.invalidArgument(op: "dropout", message: "p = \(p) must be in [0, 1)") }
        try checkFloat(x, "dropout", "x")
        if !training || p == 0 { return x }
        let started = profileStart()
        let n = x.value.count
        let seed = dropoutSeed, offset = takeDropoutPositions(n)
        let y = Tensor(uninitialized: x.shape)
        glmk_dropout_forward(y.floats, x.value.floats, n, p, seed, offset)
        return output(y, "dropout", inputs: [x], started: started, detail: "\(x.shape)", work: .floats(n, passes: 2),
                      backwardWork: .floats(n, passes: 2)) { _, dy in
            x.writeGrad { glmk_dropout_backward($0, dy.floats, n, p, seed, offset) }
        }
    }

    /// The same elements with another shape (no copy); its gradient is the same view of x's gradient.
    public func reshape(_ x: Variable, _ shape: [Int]) throws -> Variable {
        let v = try x.value.reshaped(shape)
        if let base = x.viewBase { return Variable(view: v, of: base, offset: x.viewOffset) }
        return Variable(view: v, of: x, offset: 0)
    }

    /// Rows `range` of the leading dimension (no copy); gradient flows into the same rows of x's gradient.
    public func slice(_ x: Variable, _ range: Range<Int>) throws -> Variable {
        let v = try x.value.slice(range)
        let rel = v.offset - x.value.offset
        if let base = x.viewBase { return Variable(view: v, of: base, offset: x.viewOffset + rel) }
        return Variable(view: v, of: x, offset: rel)
    }
}
