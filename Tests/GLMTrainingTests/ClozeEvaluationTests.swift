import GLMEngine
import GLM
import GLMTokenizers
import XCTest
@testable import GLMTraining

/// Single-token blank filling: items are laid out as generation prompts, and batched, padded scoring
/// gives the same logits as scoring each item alone with logits at every position.
final class ClozeEvaluationTests: XCTestCase {
    func testItemsAndBatchedLogitsEqualSingleFullForwards() throws {
        let tok = try TokenizerLoader.load(presetNamed: "glm-large")
        var config = GLMConfig(numLayers: 1, hiddenSize: 16, numAttentionHeads: 2, vocabSize: tok.paddedVocabSize, maxSequenceLength: 64)
        config.tokenizer = "glm-large"
        let model = try GLMModel.random(config: config, seed: 9)
        let eval = try ClozeEvaluator(model: model, tokenizer: tok)
        let lines = ["In the beginning God created the heaven and the earth.", "", "Jesus wept.",
                     "And God said, Let there be light: and there was light.", "1 2 3 ,,,"]
        let items = eval.makeItems(lines: lines, count: 10, seed: 4)
        XCTAssertEqual(items.count, 3, "the empty line and the line without a word are skipped")
        for item in items {
            XCTAssertEqual(item.context.first, Int32(tok.commandToken(named: "ENC")!))
            XCTAssertEqual(item.context.last, Int32(tok.commandToken(named: "eos")!))
            XCTAssertEqual(item.context[item.maskPosition], Int32(tok.commandToken(named: "MASK")!))
            XCTAssertTrue(ClozeEvaluator.isEligible(item.target, tokenizer: tok))
            var restored = item.context
            restored[item.maskPosition] = item.target
            XCTAssertEqual(Array(restored.dropFirst().dropLast()).map(Int.init), tok.encode(item.text))
        }
        XCTAssertEqual(eval.makeItems(lines: lines, count: 10, seed: 4), items, "items depend only on the seed")
        let prompt = try eval.item(prompt: "In the beginning God created the [MASK] and the earth.")
        XCTAssertEqual(prompt.maskPosition, 7)   // [CLS] in the beginning god created the [MASK]
        XCTAssertThrowsError(try eval.item(prompt: "no blank here [MASK] [MASK]"))

        let batched = try eval.logits(items + [prompt], batchSize: 3)
        for (item, got) in zip(items + [prompt], batched) {
            let c = item.context.count
            let ids = try Tensor(shape: [1, c + 1], ints: item.context + [Int32(tok.commandToken(named: "sop")!)])
            let pos = try Tensor(shape: [1, 2, c + 1], ints: (0..<Int32(c)).map { $0 } + [Int32(item.maskPosition)]
                                    + [Int32](repeating: 0, count: c) + [1])
            let out = try model.forward(ids: ids, positionIds: pos, mask: .sep([c]), logits: .all, tape: Tape.inference())
            let all = out.logits!.value.toFloats()
            let v = config.vocabSize
            let want = Array(all[(c * v)..<((c + 1) * v)])
            let d = zip(got, want).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(d, 1e-4, "\(item.text): batched vs single logits differ by \(d)")
        }
        let report = try eval.evaluate(items, baselineToken: items[0].target)
        XCTAssertEqual(report.total, 3)
        XCTAssertGreaterThanOrEqual(report.baselineCorrect, 1)
        XCTAssertGreaterThanOrEqual(report.oracleCorrect, report.baselineCorrect)
    }
}
