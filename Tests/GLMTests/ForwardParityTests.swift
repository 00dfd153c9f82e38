import Checkpoint
import Engine
import GLM
import XCTest

/// Parity of the forward pass with the ORIGINAL GLM (fixtures/forward/*), both tiny models, every case.
/// Tolerances (measured values are printed by each test): 1e-5 absolute on hidden states, logits and
/// log-probabilities; logsumexp (~10.5) 2e-5 absolute; argmax exact.
final class ForwardParityTests: XCTestCase {
    static let tol: Float = 1e-5

    struct Outputs {
        let hidden: [Float], logits: [Float], b: Int, s: Int, v: Int
        func logsumexp(_ i: Int, _ t: Int) -> Double {
            let row = (i * s + t) * v
            var mx = -Double.infinity
            for j in 0..<v { mx = max(mx, Double(logits[row + j])) }
            var sum = 0.0
            for j in 0..<v { sum += exp(Double(logits[row + j]) - mx) }
            return mx + log(sum)
        }
        func argmax(_ i: Int, _ t: Int) -> Int {
            let row = (i * s + t) * v
            var best = 0
            for j in 1..<v where logits[row + j] > logits[row + best] { best = j }
            return best
        }
    }

    func run(_ model: GLMModel, ids: Tensor, positions: Tensor, mask: GLMMask) throws -> Outputs {
        let out = try model.forward(ids: ids, positionIds: positions, mask: mask, tape: .inference())
        let logits = out.logits!
        return Outputs(hidden: out.hidden.value.toFloats(), logits: logits.value.toFloats(),
                       b: ids.shape[0], s: ids.shape[1], v: logits.shape[2])
    }

    /// Compares every tensor the fixture holds for a single-pass case.
    func check(_ o: Outputs, _ ref: SafetensorsFile, prefix: String = "", label: String) throws {
        let hidden = try ref.tensor(prefix + "hidden_states").floats()
        let dh = maxAbsDiff(o.hidden, hidden)
        XCTAssertLessThanOrEqual(dh, Self.tol, "\(label) hidden_states max |diff| \(dh)")

        let last2 = try ref.tensor(prefix + "logits_last2").floats()
        var mine: [Float] = []
        for i in 0..<o.b { for t in (o.s - 2)..<o.s { mine += o.logits[((i * o.s + t) * o.v)..<((i * o.s + t + 1) * o.v)] } }
        let dl = maxAbsDiff(mine, last2)
        XCTAssertLessThanOrEqual(dl, Self.tol, "\(label) logits_last2 max |diff| \(dl)")

        let lse = try ref.tensor(prefix + "logsumexp").floats()
        var dlse: Double = 0
        for i in 0..<o.b { for t in 0..<o.s { dlse = max(dlse, abs(o.logsumexp(i, t) - Double(lse[i * o.s + t]))) } }
        XCTAssertLessThanOrEqual(dlse, 2e-5, "\(label) logsumexp max |diff| \(dlse)")

        let argmax = try ref.tensor(prefix + "argmax").int64s()
        for i in 0..<o.b { for t in 0..<o.s {
            XCTAssertEqual(o.argmax(i, t), Int(argmax[i * o.s + t]), "\(label) argmax at [\(i), \(t)]")
        } }
        print("[parity] \(label): hidden \(dh), logits \(dl), logsumexp \(dlse)")
    }

    func forwardCase(model name: String, case c: String) throws {
        let model = try Fixtures.tinyModel(name)
        let j = try Fixtures.json("forward/\(name)-\(c).json")
        let ref = try Fixtures.safetensors("forward/\(name)-\(c).safetensors")
        let ids = try intTensor(j["input_ids"]), pos = try intTensor(j["position_ids"])
        let mask: GLMMask
        if j["attention_mask_rows"] != nil {
            let t = try ref.tensor("attention_mask")
            mask = .explicit(try Tensor(shape: t.shape, values: t.floats()))
        } else {
            mask = .sep(flatInts(j["attention_mask"]).values.map(Int.init))
        }
        let o = try run(model, ids: ids, positions: pos, mask: mask)
        try check(o, ref, label: "\(name)-\(c)")

        // log-probabilities of the next token and of the targets
        let nextRef = try ref.tensor("next_token_logprob").floats()
        let idv = ids.toInts()
        var dn: Double = 0
        for i in 0..<o.b { for t in 0..<(o.s - 1) {
            let lp = Double(o.logits[(i * o.s + t) * o.v + Int(idv[i * o.s + t + 1])]) - o.logsumexp(i, t)
            dn = max(dn, abs(lp - Double(nextRef[i * (o.s - 1) + t])))
        } }
        XCTAssertLessThanOrEqual(dn, 2e-5, "\(name)-\(c) next_token_logprob max |diff| \(dn)")
        if let targets = j["targets"] {
            let tv = flatInts(targets).values
            let tRef = try ref.tensor("target_logprob").floats()
            var dt: Double = 0
            for i in 0..<o.b { for t in 0..<o.s {
                let lp = Double(o.logits[(i * o.s + t) * o.v + Int(tv[i * o.s + t])]) - o.logsumexp(i, t)
                dt = max(dt, abs(lp - Double(tRef[i * o.s + t])))
            } }
            XCTAssertLessThanOrEqual(dt, 2e-5, "\(name)-\(c) target_logprob max |diff| \(dt)")
        }
    }

    func testSingle() throws { for m in ["glm-tiny-bert", "glm-tiny-chinese"] { try forwardCase(model: m, case: "single") } }
    func testBatch2() throws { for m in ["glm-tiny-bert", "glm-tiny-chinese"] { try forwardCase(model: m, case: "batch2") } }
    func testExplicitMaskEquivalent() throws {
        for m in ["glm-tiny-bert", "glm-tiny-chinese"] { try forwardCase(model: m, case: "explicit_mask_equiv") }
    }
    func testExplicitMaskWithPadding() throws {
        for m in ["glm-tiny-bert", "glm-tiny-chinese"] { try forwardCase(model: m, case: "explicit_mask_pad") }
    }

    /// Incremental decoding with memories, as generate_samples.py: context pass, then sop, then one token.
    func testMemories() throws {
        for name in ["glm-tiny-bert", "glm-tiny-chinese"] {
            let model = try Fixtures.tinyModel(name)
            let j = try Fixtures.json("forward/\(name)-mems.json")
            let ref = try Fixtures.safetensors("forward/\(name)-mems.safetensors")
            var mems: [Tensor] = []
            for pass in ["pass1", "pass2", "pass3"] {
                let p = j[pass] as! [String: Any]
                let ids = try intTensor(p["input_ids"]), pos = try intTensor(p["position_ids"])
                let seps = flatInts(p["attention_mask"]).values.map(Int.init)
                let out = try model.forward(ids: ids, positionIds: pos, mask: .sep(seps), mems: mems,
                                            returnMemory: true, tape: .inference())
                let o = Outputs(hidden: out.hidden.value.toFloats(), logits: out.logits!.value.toFloats(),
                                b: 1, s: ids.shape[1], v: out.logits!.shape[2])
                if pass == "pass1" {
                    try check(o, ref, prefix: "pass1.", label: "\(name)-mems pass1")
                } else {
                    let dh = maxAbsDiff(o.hidden, try ref.tensor("\(pass).hidden_states").floats())
                    let dl = maxAbsDiff(o.logits, try ref.tensor("\(pass).logits").floats())
                    XCTAssertLessThanOrEqual(dh, Self.tol, "\(name) \(pass) hidden")
                    XCTAssertLessThanOrEqual(dl, Self.tol, "\(name) \(pass) logits")
                    print("[parity] \(name)-mems \(pass): hidden \(dh), logits \(dl)")
                }
                mems = out.mems
                for k in 0..<mems.count where ref.infos["\(pass).mems.\(k)"] != nil {
                    let r = try ref.tensor("\(pass).mems.\(k)")
                    XCTAssertEqual(mems[k].shape, r.shape, "\(name) \(pass) mems.\(k) shape")
                    let d = maxAbsDiff(mems[k].toFloats(), r.floats())
                    XCTAssertLessThanOrEqual(d, Self.tol, "\(name) \(pass) mems.\(k) max |diff| \(d)")
                }
            }
        }
    }
}

/// The K/V-cache path gives the same logits as the original's memory path (fixture passes 1–3).
final class KVCacheParityTests: XCTestCase {
    func testCacheMatchesMemoryFixture() throws {
        for name in ["glm-tiny-bert", "glm-tiny-chinese"] {
            let model = try Fixtures.tinyModel(name)
            let j = try Fixtures.json("forward/\(name)-mems.json")
            let ref = try Fixtures.safetensors("forward/\(name)-mems.safetensors")
            for packed in [false, true] {
                let weights = packed ? try GLMDecodingWeights(model: model) : nil
                let cache = GLMKVCache(model: model, batch: 1)
                var fed = 0
                for pass in ["pass1", "pass2", "pass3"] {
                    let p = j[pass] as! [String: Any]
                    let ids = try intTensor(p["input_ids"]), pos = try intTensor(p["position_ids"])
                    let seps = flatInts(p["attention_mask"]).values.map(Int.init)
                    fed += ids.shape[1]
                    let out = try model.forward(ids: ids, positionIds: pos, mask: .sep(seps), cache: cache,
                                                weights: weights, logits: .last)
                    let mine = out.logits!.value.toFloats()
                    let refLogits: [Float]
                    if pass == "pass1" {
                        let l2 = try ref.tensor("pass1.logits_last2").floats()
                        refLogits = Array(l2[(l2.count / 2)...])
                    } else {
                        refLogits = try ref.tensor("\(pass).logits").floats()
                    }
                    let d = maxAbsDiff(mine, refLogits)
                    XCTAssertLessThanOrEqual(d, 1e-5, "\(name) \(pass) packed=\(packed) cached logits max |diff| \(d)")
                    print("[parity] \(name) K/V cache \(pass) packed=\(packed): logits \(d)")
                }
                XCTAssertEqual(cache.length, fed)
            }
        }
    }
}
