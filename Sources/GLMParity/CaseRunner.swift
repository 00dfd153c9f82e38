import GLMCheckpoint
import GLMEngine
import Foundation
import GLM

/// Runs the model on a case described in the JSON layout of the reference fixtures
/// (`forward/*.json`, `train/*.json`) and returns the tensors the matching fixture `.safetensors` holds,
/// with the same names, shapes and meaning. `glm inspect forward|train` and the parity tests share it.
public enum CaseRunner {
    /// Forward cases: single, batch2, explicit masks (`attention_mask_rows`), and the three-pass mems case.
    public static func forward(model: GLMModel, case json: [String: Any]) throws -> [(String, TensorData)] {
        if json["pass1"] != nil { return try memoryPasses(model: model, json) }
        let ids = try ints(json, "input_ids"), pos = try ints(json, "position_ids")
        let mask: GLMMask
        var out: [(String, TensorData)] = []
        if let rows = json["attention_mask_rows"] {
            let (v, shape) = try nested(rows, "attention_mask_rows")
            let declared = (json["attention_mask_shape"] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue }
            let full = declared ?? [1, 1] + shape
            guard full.reduce(1, *) == v.count else {
                throw GLMError.badInput("attention_mask_rows has \(v.count) values, attention_mask_shape is \(full)")
            }
            let t = try Tensor(shape: full, values: v.map(Float.init))
            mask = .explicit(t)
            out.append(("attention_mask", TensorData(float32: v.map(Float.init), shape: full)))
        } else {
            mask = .sep(try nested(json["attention_mask"] ?? json["sep"] as Any, "attention_mask").0)
        }
        let result = try model.forward(ids: ids, positionIds: pos, mask: mask, tape: .inference())
        let logits = result.logits!.value
        let b = ids.shape[0], s = ids.shape[1]
        out += summaries(logits: logits, hidden: result.hidden.value, ids: ids, prefix: "")
        if let t = json["targets"] {
            let (tv, _) = try nested(t, "targets")
            out.append(("target_logprob", TensorData(float32: logprobs(logits, at: tv.map { Int32($0) }), shape: [b, s])))
        }
        if let lengths = json["unpadded_lengths"] {
            let (lens, _) = try nested(lengths, "unpadded_lengths")
            let v = logits.shape[2]
            var rows: [Float] = []
            for (i, n) in lens.enumerated() where i < b {
                guard n >= 2 && n <= s else { throw GLMError.badInput("unpadded length \(n) of sample \(i) outside 2...\(s)") }
                let base = logits.floats + (i * s + n - 2) * v
                rows += Array(UnsafeBufferPointer(start: base, count: 2 * v))
            }
            out.append(("logits_last2_unpadded", TensorData(float32: rows, shape: [lens.count, 2, v])))
        }
        return out
    }

    /// One pre-training batch (text, target, loss_mask, position_id, per-sample sep): loss, per-token loss
    /// and `grad.<key>` for every parameter, dropout off.
    public static func train(model: GLMModel, case json: [String: Any]) throws -> [(String, TensorData)] {
        let ids = try ints(json, "text"), pos = try ints(json, "position_id"), targets = try ints(json, "target")
        let (lm, lmShape) = try nested(json["loss_mask"] as Any, "loss_mask")
        let lossMask = try Tensor(shape: lmShape, values: lm.map(Float.init))
        let seps = try nested(json["attention_mask"] as Any, "attention_mask").0
        let tape = Tape(recording: true, training: false)
        for p in model.parameters { p.zeroGrad() }
        let out = try model.forward(ids: ids, positionIds: pos, mask: .sep(seps), tape: tape)
        let ce = try tape.crossEntropy(out.logits!, targets: targets, lossMask: lossMask)
        try tape.backward(ce.loss)
        var result: [(String, TensorData)] = [
            ("loss", TensorData(float32: [ce.loss.value.scalarValue], shape: [1])),
            ("per_token_loss", TensorData(float32: ce.perToken.toFloats(), shape: ids.shape)),
        ]
        for p in model.parameters {
            result.append(("grad.\(p.name)", TensorData(float32: p.gradient.toFloats(), shape: p.value.shape)))
        }
        return result
    }

    // MARK: - pieces

    static func memoryPasses(model: GLMModel, _ json: [String: Any]) throws -> [(String, TensorData)] {
        var mems: [Tensor] = []
        var out: [(String, TensorData)] = []
        for pass in ["pass1", "pass2", "pass3"] {
            guard let p = json[pass] as? [String: Any] else { throw GLMError.badInput("mems case has no '\(pass)' object") }
            let ids = try ints(p, "input_ids"), pos = try ints(p, "position_ids")
            let seps = try nested(p["attention_mask"] as Any, "\(pass).attention_mask").0
            let r = try model.forward(ids: ids, positionIds: pos, mask: .sep(seps), mems: mems, returnMemory: true,
                                      tape: .inference())
            let logits = r.logits!.value
            if pass == "pass1" {
                out += summaries(logits: logits, hidden: r.hidden.value, ids: ids, prefix: "pass1.")
            } else {
                out.append(("\(pass).logits", data(logits)))
                out.append(("\(pass).hidden_states", data(r.hidden.value)))
            }
            mems = r.mems
            if pass != "pass3" { for (k, m) in mems.enumerated() { out.append(("\(pass).mems.\(k)", data(m))) } }
        }
        return out
    }

    /// hidden_states, logits_last2, logsumexp, argmax, next_token_logprob.
    static func summaries(logits: Tensor, hidden: Tensor, ids: Tensor, prefix: String) -> [(String, TensorData)] {
        let b = ids.shape[0], s = ids.shape[1], v = logits.shape[2]
        var last2: [Float] = [], lse: [Float] = [], argmax: [Int64] = [], next: [Float] = []
        let idv = ids.toInts()
        for i in 0..<b {
            last2 += Array(UnsafeBufferPointer(start: logits.floats + (i * s + max(s - 2, 0)) * v, count: min(s, 2) * v))
            for t in 0..<s {
                let row = logits.floats + (i * s + t) * v
                let (l, a) = logSumExpAndArgmax(row, v)
                lse.append(Float(l)); argmax.append(Int64(a))
                if t + 1 < s { next.append(Float(Double(row[Int(idv[i * s + t + 1])]) - l)) }
            }
        }
        return [(prefix + "hidden_states", data(hidden)),
                (prefix + "logits_last2", TensorData(float32: last2, shape: [b, min(s, 2), v])),
                (prefix + "logsumexp", TensorData(float32: lse, shape: [b, s])),
                (prefix + "argmax", TensorData(int64: argmax, shape: [b, s])),
                (prefix + "next_token_logprob", TensorData(float32: next, shape: [b, max(s - 1, 0)]))]
    }

    static func logprobs(_ logits: Tensor, at targets: [Int32]) -> [Float] {
        let v = logits.shape[2]
        return targets.enumerated().map { n, t in
            let row = logits.floats + n * v
            return Float(Double(row[Int(t)]) - logSumExpAndArgmax(row, v).0)
        }
    }

    /// log Σ exp over one row in float64, and the first index of the maximum.
    static func logSumExpAndArgmax(_ row: UnsafePointer<Float>, _ v: Int) -> (Double, Int) {
        var best = 0
        for j in 1..<v where row[j] > row[best] { best = j }
        let mx = Double(row[best])
        var sum = 0.0
        for j in 0..<v { sum += exp(Double(row[j]) - mx) }
        return (mx + log(sum), best)
    }

    static func data(_ t: Tensor) -> TensorData { TensorData(float32: t.toFloats(), shape: t.shape) }

    static func ints(_ json: [String: Any], _ key: String) throws -> Tensor {
        guard let v = json[key] else { throw GLMError.badInput("case has no '\(key)'") }
        let (values, shape) = try nested(v, key)
        guard values.allSatisfy({ $0 >= Int(Int32.min) && $0 <= Int(Int32.max) }) else {
            throw GLMError.badInput("'\(key)' has values outside the int32 range")
        }
        return try Tensor(shape: shape, ints: values.map { Int32($0) })
    }

    /// A nested JSON array of numbers → flat values and its (rectangular) shape.
    static func nested(_ any: Any, _ what: String) throws -> ([Int], [Int]) {
        var values: [Int] = [], shape: [Int] = []
        func walk(_ x: Any, _ depth: Int) throws {
            if let a = x as? [Any] {
                if shape.count == depth { shape.append(a.count) }
                else if depth >= shape.count || shape[depth] != a.count {
                    throw GLMError.badInput("'\(what)' is not a rectangular array")
                }
                for e in a { try walk(e, depth + 1) }
            } else if let n = x as? NSNumber {
                guard depth == shape.count else { throw GLMError.badInput("'\(what)' mixes numbers and arrays") }
                values.append(n.intValue)
            } else {
                throw GLMError.badInput("'\(what)' holds a non-number \(type(of: x))")
            }
        }
        try walk(any, 0)
        return (values, shape)
    }
}
