import GLMCheckpoint
import GLMEngine
import GLM
import GLMParity
import XCTest

/// Loss and every parameter gradient against the original (fixtures/train/*): one blank-infilling batch,
/// cross-entropy over the full padded vocabulary, masked mean. Tolerances: loss and per-token loss 1e-5
/// absolute; gradients max |diff| ≤ 1e-4 · max|ref| of the tensor + 1e-7 (relative to the tensor's scale).
final class TrainParityTests: XCTestCase {
    func trainCase(_ name: String) throws {
        let model = try Fixtures.tinyModel(name)
        let j = try Fixtures.json("train/\(name)-loss.json")
        let ref = try Fixtures.safetensors("train/\(name)-loss.safetensors")
        let mine = Dictionary(uniqueKeysWithValues: try CaseRunner.train(model: model, case: j))
        let loss = mine["loss"]!.floats()[0]
        let refLoss = try ref.tensor("loss").floats()[0]
        XCTAssertEqual(loss, refLoss, accuracy: 1e-5, "\(name) loss")
        let dpt = maxAbsDiff(mine["per_token_loss"]!.floats(), try ref.tensor("per_token_loss").floats())
        XCTAssertLessThanOrEqual(dpt, 1e-5, "\(name) per_token_loss")

        var worst: (String, Float) = ("", 0)
        for p in model.parameters {
            let g = mine["grad.\(p.name)"]!.floats()
            let key = "grad.\(p.name)"
            if ref.infos[key] != nil {
                let r = try ref.tensor(key).floats()
                let scale = r.map(abs).max() ?? 0
                let d = maxAbsDiff(g, r)
                XCTAssertLessThanOrEqual(d, 1e-4 * scale + 1e-7, "\(name) \(key): max |diff| \(d), ref scale \(scale)")
                if d / max(scale, 1e-12) > worst.1 { worst = (key, d / max(scale, 1e-12)) }
            } else {
                // Compact word-embedding gradient: selected rows, per-row L2 norm and per-row sum.
                XCTAssertEqual(p.name, "word_embeddings.weight", "\(name): no reference gradient for \(key)")
                let rows = try ref.tensor(key + ".rows").int64s().map(Int.init)
                let sel = try ref.tensor(key + ".selected_rows").floats()
                let h = p.value.shape[1]
                var mine: [Float] = []
                for r in rows { mine += g[(r * h)..<((r + 1) * h)] }
                let d = maxAbsDiff(mine, sel)
                let scale = sel.map(abs).max() ?? 0
                XCTAssertLessThanOrEqual(d, 1e-4 * scale + 1e-7, "\(name) \(key).selected_rows")
                let norms = try ref.tensor(key + ".row_l2_norm").floats()
                let sums = try ref.tensor(key + ".row_sum").floats()
                var myNorms = [Float](repeating: 0, count: norms.count), mySums = myNorms
                for r in 0..<norms.count {
                    var s2: Double = 0, s: Double = 0
                    for c in 0..<h { let v = Double(g[r * h + c]); s2 += v * v; s += v }
                    myNorms[r] = Float(s2.squareRoot()); mySums[r] = Float(s)
                }
                XCTAssertLessThanOrEqual(maxAbsDiff(myNorms, norms), 1e-4 * (norms.max() ?? 0) + 1e-7, "\(name) row norms")
                XCTAssertLessThanOrEqual(maxAbsDiff(mySums, sums), 1e-4 * (sums.map(abs).max() ?? 0) + 1e-7, "\(name) row sums")
            }
        }
        print("[parity] \(name) train: loss \(loss) vs \(refLoss), per-token \(dpt), worst gradient \(worst.0) rel \(worst.1)")
    }

    func testTinyBertLossAndGradients() throws { try trainCase("glm-tiny-bert") }
    func testTinyChineseLossAndGradients() throws { try trainCase("glm-tiny-chinese") }
}
