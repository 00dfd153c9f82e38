import XCTest
@testable import GLMTasks

/// `CustomizationDataset` against the original's encodings: BERT (MASK), GLM-10B (GPT-2, sMASK),
/// Chinese SentencePiece (sMASK), and `--mask-pad-token` with short lengths (explicit [1, L, L] masks,
/// source cut from the left, target cut without its eop).
final class Seq2SeqCustomizationTests: XCTestCase {
    func testCustomizationEveryRunEqualsTheOriginal() throws {
        XCTAssertEqual(try S2SFixtures.checkAllRuns("customization"), 24)
    }

    /// The explicit mask's shape rules on a hand-built example: source columns up to the context
    /// length, a causal block over the target, nothing on the padding.
    func testExplicitMaskLayout() throws {
        var task = Seq2SeqTask.preset(.customization)
        task.srcSeqLength = 6
        task.tgtSeqLength = 3
        task.maskPadToken = true
        let encoder = try Seq2SeqEncoder(task: task, tokenizer: try S2SFixtures.bert())
        let example = Seq2SeqExample(guid: "train-0", source: "hi", target: "a b c d", ref: "a b c d")
        let train = try encoder.encode(example, split: .train)
        XCTAssertEqual(train.ids.count, 9)
        guard case .explicit(let m) = train.attention else { return XCTFail("expected an explicit mask") }
        // context = [CLS] hi [MASK] [eos] = 4 columns; rows 6...8 see the target causally.
        XCTAssertEqual(m[0], [1, 1, 1, 1, 0, 0, 0, 0, 0])
        XCTAssertEqual(m[5], [1, 1, 1, 1, 0, 0, 0, 0, 0])
        XCTAssertEqual(m[6], [1, 1, 1, 1, 0, 0, 1, 0, 0])
        XCTAssertEqual(m[8], [1, 1, 1, 1, 0, 0, 1, 1, 1])
        XCTAssertEqual(train.lossMask, [0, 0, 0, 0, 0, 0, 1, 1, 1])  // "a b c d" + eop cut to 3: no eop
        XCTAssertFalse(train.targets!.contains(encoder.eop))
        let test = try encoder.encode(example, split: .test)
        guard case .explicit(let e) = test.attention else { return XCTFail("expected an explicit mask") }
        XCTAssertEqual(e.count, 7)
        XCTAssertEqual(e[6], [1, 1, 1, 1, 0, 0, 1])
        XCTAssertEqual(e[0], [1, 1, 1, 1, 0, 0, 0])
    }

    func testMaskPadTokenOnlyForCustomization() throws {
        var task = Seq2SeqTask.preset(.gigaword)
        task.maskPadToken = true
        XCTAssertThrowsError(try Seq2SeqEncoder(task: task, tokenizer: try S2SFixtures.bert()))
    }
}
