import GLM
import GLMEngine
import XCTest
@testable import GLMGeneration

/// `GLMModelInputs` (HF build_inputs_for_generation): one full forward pass over the inputs built with a
/// blank's greedy answer as target predicts exactly that answer at every slot (teacher forcing reproduces
/// the generator), and the layout is HF's.
final class ModelInputsTests: GenerationTestCase {
    func testTeacherForcedForwardOnTargetInputsReproducesGreedyBlanks() throws {
        var checked = 0
        for model in ["glm-tiny-bert-sharp", "glm-tiny-chinese-sharp", "glm-tiny-bert-trained"] {
            let g = try Fixtures.generator(model)
            for c in try Fixtures.json("generate/\(model).json").list("greedy") {
                let prompt = c.string("prompt")!
                let r = try g.generate(prompt, options: GenerationOptions(maxLength: 10))
                guard let first = r.blanks.first, !first.ids.isEmpty, first.stop == .endToken, first.endToken == g.specialTokens.eop else { continue }
                let p = try g.prepare(prompt, maxLength: 10)
                let inputs = try GLMModelInputs(contextIds: p.contextIds, maskPositions: p.maskPositions, tokens: g.specialTokens,
                                                maxGenLength: 10, targetIds: first.ids)
                let n = inputs.inputIds.count, l = inputs.contextLength
                XCTAssertEqual(n, l + first.ids.count + 1)
                let ids = try Tensor(shape: [1, n], ints: inputs.inputIds.map { Int32($0) })
                let pos = try Tensor(shape: [1, 2, n], ints: (inputs.positionIds + inputs.blockPositionIds).map { Int32($0) })
                let mask = try Tensor(shape: [1, 1, n, n], values: inputs.attentionMask.flatMap { $0 })
                let out = try g.model.forward(ids: ids, positionIds: pos, mask: .explicit(mask), logits: .all, tape: .inference())
                let logits = out.logits!.value
                let v = logits.shape[2]
                for slot in 0..<(n - l) {
                    let predicted = LogitsProcessing.argmax(logits.floats + (l + slot) * v, count: v)
                    XCTAssertEqual(predicted, inputs.labels![l + slot], "\(model) \(prompt.prefix(30)) slot \(slot)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 3)
    }

    func testLayoutWithoutTargetAndWithPadding() throws {
        let t = SpecialTokens(sop: 90, eop: 91, eos: 92, pad: 0)
        let gen = try GLMModelInputs(contextIds: [101, 5, 103, 7, 92], maskPositions: [2], tokens: t, maxGenLength: 3)
        XCTAssertEqual(gen.inputIds, [101, 5, 103, 7, 92, 90])
        XCTAssertEqual(gen.positionIds, [0, 1, 2, 3, 4, 2, 2, 2])
        XCTAssertEqual(gen.blockPositionIds, [0, 0, 0, 0, 0, 1, 2, 3])
        XCTAssertNil(gen.labels)
        XCTAssertEqual(gen.attentionMask[0], [1, 1, 1, 1, 1, 0, 0, 0])
        XCTAssertEqual(gen.attentionMask[6], [1, 1, 1, 1, 1, 1, 1, 0])
        let padded = try GLMModelInputs(contextIds: [101, 103], maskPositions: [1], tokens: t, maxGenLength: 4, targetIds: [8], padding: true)
        XCTAssertEqual(padded.inputIds, [101, 103, 90, 8, 91, 0])
        XCTAssertEqual(padded.labels, [0, 0, 8, 91, 0, 0])
        XCTAssertThrowsError(try GLMModelInputs(contextIds: [101, 5], maskPositions: [], tokens: t, maxGenLength: 3))
    }
}
