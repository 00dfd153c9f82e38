import GLMCheckpoint
import Foundation
import GLM
import XCTest
@testable import GLMGeneration

/// The logits of every forward step of prompts 0 and 1 (generate/<model>-forward.safetensors, recorded
/// inside the original's sample_sequence) against the generation loop's own step logits, on both paths:
/// a debugging aid that pins a divergence to its blank and step. Tolerance 3e-5 absolute on logits whose
/// largest magnitudes are 12–17 (2e-6 of the scale: float32 with another summation order and oneDNN's
/// packed GEMMs); measured max 1.8e-5 (chinese-sharp, K/V path), the memory path 1.4e-5.
final class StepLogitsTests: GenerationTestCase {
    func testStepLogitsMatchOriginal() throws {
        for model in ["glm-tiny-bert-sharp", "glm-tiny-chinese-sharp", "glm-tiny-bert-trained"] {
            let j = try Fixtures.json("generate/\(model).json")
            let settings = try FixtureSettings(j, file: model)
            let ref = try SafetensorsFile(path: try Fixtures.require("generate/\(model)-forward.safetensors"))
            let g = try Fixtures.generator(model)
            let cases = j.list("greedy")
            for path in [DecodingPath.kvCache, .memory] {
                var compared = 0, worst: Float = 0
                for p in 0..<2 {
                    let prepared = try g.prepare(cases[p].string("prompt")!, maxLength: settings.greedyMaxLength)
                    var debug = BlankFillingCallbacks()
                    var seen: [(String, [Float])] = []
                    debug.onStepLogits = { _, blank, step, logits in
                        seen.append(("prompt\(p).blank\(blank).step\(step).logits", Array(logits)))
                    }
                    _ = try g.run([prepared], options: GenerationOptions(maxLength: settings.greedyMaxLength, path: path),
                                  onEvent: nil, debug: debug)
                    let expected = ref.names.filter { $0.hasPrefix("prompt\(p).") }
                    XCTAssertEqual(Set(seen.map(\.0)), Set(expected), "\(model) prompt \(p): the same steps were run")
                    for (name, mine) in seen where ref.infos[name] != nil {
                        let theirs = try ref.tensor(name).floats()
                        XCTAssertEqual(mine.count, theirs.count, name)
                        var d: Float = 0
                        for i in 0..<min(mine.count, theirs.count) { d = max(d, abs(mine[i] - theirs[i])) }
                        XCTAssertLessThanOrEqual(d, 3e-5, "\(model) [\(path)] \(name): max |Δ logit| \(d)")
                        worst = max(worst, d)
                        compared += 1
                    }
                }
                XCTAssertGreaterThan(compared, 0)
                print("[step logits] \(model) \(path): \(compared) steps, max |Δ| \(worst)")
            }
        }
    }
}
