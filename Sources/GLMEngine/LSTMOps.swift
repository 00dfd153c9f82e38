import Foundation
/// One direction's weights of an LSTM layer, as `torch.nn.LSTM` names them (`weight_ih_l{k}[_reverse]`,
/// …): wIH [4H, I], wHH [4H, H], bIH [4H], bHH [4H]; gate rows in torch's order input, forget, cell, output.
public struct LSTMWeights {
    public var wIH: Variable, wHH: Variable, bIH: Variable, bHH: Variable
    public init(wIH: Variable, wHH: Variable, bIH: Variable, bHH: Variable) {
        self.wIH = wIH; self.wHH = wHH; self.bIH = bIH; self.bHH = bHH
    }
    var all: [Variable] { [wIH, wHH, bIH, bHH] }
}

extension Tape {
    /// One bidirectional LSTM layer over a single sequence x [T, I] (batch 1, zero initial states), as
    /// `torch.nn.LSTM(bidirectional=True)`: y [T, 2H] = [forward h_t | reverse h_t]. A coarse op for short
    /// sequences (continuous prompts, T ≤ ~32): forward and back-propagation through time run in float64
    /// with naive loops; the result and the gradients are rounded to float32.
    public func bidirectionalLSTM(_ x: Variable, forward fw: LSTMWeights, reverse rv: LSTMWeights) throws -> Variable {
        let op = "bidirectionalLSTM"
        let started = profileStart()
        try check(x.value.rank == 2, op, "input must be [T, I], got \(x.shape)")
        let t = x.shape[0], i = x.shape[1]
        let h = fw.wHH.shape.last ?? 0
        for w in [fw, rv] {
            for v in w.all { try checkFloat(v, op, "weight") }
            try check(w.wIH.shape == [4 * h, i] && w.wHH.shape == [4 * h, h] && w.bIH.shape == [4 * h] && w.bHH.shape == [4 * h], op,
                      "weights \(w.wIH.shape) \(w.wHH.shape) \(w.bIH.shape) \(w.bHH.shape) do not fit input width \(i) and hidden \(h)")
        }
        let x64 = x.value.toFloats().map(Double.init)
        let dirs = [fw, rv].map { LSTM64.Weights($0) }
        let runs = dirs.enumerated().map { LSTM64.forward(x64, t: t, i: i, h: h, w: $0.element, reverse: $0.offset == 1) }
        let y = Tensor(uninitialized: [t, 2 * h])
        for s in 0..<t { for d in 0..<2 { for j in 0..<h { y.floats[s * 2 * h + d * h + j] = Float(runs[d].h[s * h + j]) } } }
        return output(y, op, inputs: [x] + fw.all + rv.all, started: started, detail: "T \(t) I \(i) H \(h)") { _, dy in
            let dy64 = dy.toFloats().map(Double.init)
            var dx = [Double](repeating: 0, count: t * i)
            for d in 0..<2 {
                let dyd = (0..<(t * h)).map { dy64[($0 / h) * 2 * h + d * h + $0 % h] }
                let g = LSTM64.backward(x64, t: t, i: i, h: h, w: dirs[d], run: runs[d], dy: dyd, reverse: d == 1)
                for k in 0..<dx.count { dx[k] += g.dx[k] }
                let w = d == 0 ? fw : rv
                for (v, grad) in zip(w.all, [g.dwIH, g.dwHH, g.db, g.db]) where v.requiresGrad {
                    v.writeGrad { p in for k in 0..<grad.count { p[k] = Float(grad[k]) } }
                }
            }
            if x.requiresGrad { x.writeGrad { p in for k in 0..<dx.count { p[k] = Float(dx[k]) } } }
        }
    }
}

/// The float64 LSTM recurrences behind `Tape.bidirectionalLSTM` (one direction, batch 1, zero initial state).
enum LSTM64 {
    struct Weights {
        var wIH: [Double], wHH: [Double], b: [Double]   // b = bIH + bHH
        init(_ w: LSTMWeights) {
            wIH = w.wIH.value.toFloats().map(Double.init)
            wHH = w.wHH.value.toFloats().map(Double.init)
            b = zip(w.bIH.value.toFloats(), w.bHH.value.toFloats()).map { Double($0) + Double($1) }
        }
        init(wIH: [Double], wHH: [Double], b: [Double]) { self.wIH = wIH; self.wHH = wHH; self.b = b }
    }
    /// Per processed step (time index order): gate activations [T, 4H] (i, f, g, o after σ/tanh), cells and outputs [T, H].
    struct Run { var gates: [Double]; var c: [Double]; var h: [Double] }

    static func sigmoid(_ v: Double) -> Double { 1 / (1 + exp(-v)) }

    static func forward(_ x: [Double], t: Int, i: Int, h: Int, w: Weights, reverse: Bool) -> Run {
        var run = Run(gates: .init(repeating: 0, count: t * 4 * h), c: .init(repeating: 0, count: t * h), h: .init(repeating: 0, count: t * h))
        var hPrev = [Double](repeating: 0, count: h), cPrev = hPrev
        for step in 0..<t {
            let s = reverse ? t - 1 - step : step
            for r in 0..<(4 * h) {
                var a = w.b[r]
                for k in 0..<i { a += w.wIH[r * i + k] * x[s * i + k] }
                for k in 0..<h { a += w.wHH[r * h + k] * hPrev[k] }
                run.gates[s * 4 * h + r] = r / h == 2 ? tanh(a) : sigmoid(a)
            }
            for j in 0..<h {
                let g = s * 4 * h
                let c = run.gates[g + h + j] * cPrev[j] + run.gates[g + j] * run.gates[g + 2 * h + j]
                run.c[s * h + j] = c
                run.h[s * h + j] = run.gates[g + 3 * h + j] * tanh(c)
            }
            hPrev = Array(run.h[(s * h)..<((s + 1) * h)]); cPrev = Array(run.c[(s * h)..<((s + 1) * h)])
        }
        return run
    }

    /// Back-propagation through time; `dy` [T, H] is the gradient of this direction's outputs.
    static func backward(_ x: [Double], t: Int, i: Int, h: Int, w: Weights, run: Run, dy: [Double], reverse: Bool)
        -> (dx: [Double], dwIH: [Double], dwHH: [Double], db: [Double]) {
        var dx = [Double](repeating: 0, count: t * i), dwIH = [Double](repeating: 0, count: 4 * h * i)
        var dwHH = [Double](repeating: 0, count: 4 * h * h), db = [Double](repeating: 0, count: 4 * h)
        var dhNext = [Double](repeating: 0, count: h), dcNext = dhNext
        var da = [Double](repeating: 0, count: 4 * h)
        for step in stride(from: t - 1, through: 0, by: -1) {
            let s = reverse ? t - 1 - step : step
            let prev: Int? = step > 0 ? (reverse ? s + 1 : s - 1) : nil
            let g = s * 4 * h
            for j in 0..<h {
                let ig = run.gates[g + j], fg = run.gates[g + h + j], gg = run.gates[g + 2 * h + j], og = run.gates[g + 3 * h + j]
                let tc = tanh(run.c[s * h + j])
                let dh = dy[s * h + j] + dhNext[j]
                let dc = dh * og * (1 - tc * tc) + dcNext[j]
                let cPrev = prev.map { run.c[$0 * h + j] } ?? 0
                da[j] = dc * gg * ig * (1 - ig)
                da[h + j] = dc * cPrev * fg * (1 - fg)
                da[2 * h + j] = dc * ig * (1 - gg * gg)
                da[3 * h + j] = dh * tc * og * (1 - og)
                dcNext[j] = dc * fg
            }
            for k in 0..<h { dhNext[k] = 0 }
            for r in 0..<(4 * h) {
                let a = da[r]
                db[r] += a
                for k in 0..<i { dwIH[r * i + k] += a * x[s * i + k]; dx[s * i + k] += a * w.wIH[r * i + k] }
                if let p = prev { for k in 0..<h { dwHH[r * h + k] += a * run.h[p * h + k] } }
                for k in 0..<h { dhNext[k] += a * w.wHH[r * h + k] }
            }
        }
        return (dx, dwIH, dwHH, db)
    }
}
