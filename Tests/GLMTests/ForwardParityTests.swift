import GLMCheckpoint
import GLMEngine
import Foundation
import GLM
import GLMParity
import XCTest

/// Parity of the forward pass with the ORIGINAL GLM: every tensor of every `forward/*.safetensors` fixture
/// (both tiny models; single, batch2, explicit masks, the three-pass memory case) is recomputed through
/// `CaseRunner.forward` — the code behind `glm inspect forward` — and compared by name.
/// Tolerances: 1e-5 absolute on hidden states, logits, memories and log-probabilities; 2e-5 on logsumexp
/// (values ~10.5); argmax exact. Measured maxima are printed ([parity] lines): about 7e-7.
final class ForwardParityTests: XCTestCase {
    static let cases = ["single", "batch2", "explicit_mask_equiv", "explicit_mask_pad", "mems"]

    func testEveryForwardFixture() throws {
        for name in ["glm-tiny-bert", "glm-tiny-chinese"] {
            let model = try Fixtures.tinyModel(name)
            for c in Self.cases {
                let json = try Fixtures.json("forward/\(name)-\(c).json")
                let ref = try Fixtures.safetensors("forward/\(name)-\(c).safetensors")
                let mine = Dictionary(uniqueKeysWithValues: try CaseRunner.forward(model: model, case: json))
                var worst: Float = 0
                for key in ref.names {
                    let r = try ref.tensor(key)
                    guard let m = mine[key] else { XCTFail("\(name)-\(c): no output named \(key)"); continue }
                    XCTAssertEqual(m.shape, r.shape, "\(name)-\(c) \(key) shape")
                    guard m.shape == r.shape else { continue }
                    if r.dtype == .int64 {
                        XCTAssertEqual(m.int64s(), r.int64s(), "\(name)-\(c) \(key) must be exactly equal")
                    } else {
                        let d = maxAbsDiff(m.floats(), r.floats())
                        let tol: Float = key.hasSuffix("logsumexp") ? 2e-5 : 1e-5
                        XCTAssertLessThanOrEqual(d, tol, "\(name)-\(c) \(key) max |diff| \(d)")
                        worst = max(worst, d)
                    }
                }
                print("[parity] \(name)-\(c): \(ref.names.count) tensors, max |diff| \(worst)")
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
                let tape: Tape = packed ? .inference(packedWeights: .float32) : .inference()
                let cache = GLMKVCache(model: model, batch: 1)
                var fed = 0
                for pass in ["pass1", "pass2", "pass3"] {
                    let p = j[pass] as! [String: Any]
                    let ids = try intTensor(p["input_ids"]), pos = try intTensor(p["position_ids"])
                    let seps = flatInts(p["attention_mask"]).values.map(Int.init)
                    fed += ids.shape[1]
                    let out = try model.forward(ids: ids, positionIds: pos, mask: .sep(seps), cache: cache,
                                                logits: .last, tape: tape)
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
