import Foundation
import XCTest
import GLMTestSupport
@testable import GLMTasks

/// `BlankLMDataset` against the original's encodings (mask ratios 0.1 and 0.3; train and dev draw
/// their masks from `random.Random(1234)` in index order; test reads the `.blank` file).
final class Seq2SeqBlankTests: XCTestCase {
    func testBlankEveryRunEqualsTheOriginal() throws {
        XCTAssertEqual(try S2SFixtures.checkAllRuns("blank"), 15)
    }

    /// `mask_text` on hand-made texts with one generator, in order (expected values printed by the
    /// original function with `random.Random(1234)`): the pool and the rejection-set branches of
    /// `sample`, runs collapsing into one mask, a literal `[MASK]` word merging, empty texts.
    func testMaskTextMatchesTheOriginal() {
        var r = PythonRandom(seed: 1234)
        var m = BlankMasking.mask("a b c d e f g h i j", ratio: 0.3, random: &r)
        XCTAssertEqual(m, .init(source: " [MASK] c d e f g [MASK] i j", spans: [" a b", " h"]))
        let w40 = (0..<40).map { "w\($0)" }.joined(separator: " ")
        m = BlankMasking.mask(w40, ratio: 0.1, random: &r)
        XCTAssertEqual(m.spans, [" w2", " w5 w6", " w37"])
        XCTAssertEqual(m.source, " w0 w1 [MASK] w3 w4 [MASK] " + (7...36).map { "w\($0)" }.joined(separator: " ") + " [MASK] w38 w39")
        let v100 = (0..<100).map { "v\($0)" }.joined(separator: " ")
        m = BlankMasking.mask(v100, ratio: 0.3, random: &r)
        XCTAssertEqual(m.spans, [" v1 v2 v3", " v5", " v8", " v11", " v14", " v19", " v23", " v30 v31", " v34", " v44 v45", " v59",
                                 " v61 v62", " v64 v65", " v69", " v71", " v76", " v78 v79", " v82", " v86", " v88", " v91", " v96", " v98"])
        XCTAssertTrue(m.source.hasPrefix(" v0 [MASK] v4 [MASK] v6 v7 [MASK] v9"), m.source)
        XCTAssertTrue(m.source.hasSuffix(" v95 [MASK] v97 [MASK] v99"), m.source)
        m = BlankMasking.mask("x [MASK] y z", ratio: 0.5, random: &r)
        XCTAssertEqual(m, .init(source: " x [MASK] z", spans: [" [MASK] y"]))
        XCTAssertEqual(BlankMasking.mask("", ratio: 0.3, random: &r), .init(source: "", spans: []))
        XCTAssertEqual(BlankMasking.mask("one", ratio: 0.3, random: &r), .init(source: " one", spans: []))
        XCTAssertEqual(r.random(), 0.8501783635857637)
    }

    /// Access order matters: a second pass over the same dataset draws new masks.
    func testMasksFollowAccessOrder() throws {
        let run = try S2SFixtures.runs("blank")[0]
        var dataset = try Seq2SeqDataset(task: try S2SFixtures.task(run), split: .train,
                                         dataDirectory: try S2SFixtures.dataDirectory(run), tokenizer: try S2SFixtures.tokenizer(run))
        let first = try dataset.samples()
        let second = try dataset.samples()
        XCTAssertNotEqual(first, second)
        dataset.random = PythonRandom(seed: 1234)
        XCTAssertEqual(try dataset.samples(), first)
    }

    func testBlankErrors() throws {
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "s2s-blank")
        try "a b\nc d\n".write(toFile: dir + "/test.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: dir + "/blank", withIntermediateDirectories: true)
        try "a <blank>\nc d\n".write(toFile: dir + "/blank/test.maskratio0.3.blank", atomically: true, encoding: .utf8)
        let bert = try S2SFixtures.bert()
        // The 0.1 file is missing: the error names it.
        XCTAssertThrowsError(try Seq2SeqDataset(task: .preset(.blank), split: .test, dataDirectory: dir, tokenizer: bert)) { e in
            XCTAssertEqual((e as? Seq2SeqDataError)?.file, dir + "/blank/test.maskratio0.1.blank")
        }
        var dataset = try Seq2SeqDataset(task: .preset(.blank, blankMaskRatio: 0.3), split: .test, dataDirectory: dir, tokenizer: bert)
        XCTAssertEqual(dataset.examples.map(\.source), ["a [MASK]", "c d"])
        XCTAssertNoThrow(try dataset.sample(at: 0))
        XCTAssertThrowsError(try dataset.sample(at: 1)) { e in  // no <blank> on line 2
            XCTAssertEqual((e as? Seq2SeqDataError)?.line, 2)
            XCTAssertEqual((e as? Seq2SeqDataError)?.file, dir + "/blank/test.maskratio0.3.blank")
        }
        // BERT only, as the original asserts.
        let gpt2 = try S2SFixtures.tokenizer(["command_line_flags": ["--tokenizer-type", "GPT2BPETokenizer", "--task-mask"]])
        XCTAssertThrowsError(try Seq2SeqEncoder(task: .preset(.blank), tokenizer: gpt2))
        // Training samples need the generator.
        let encoder = try Seq2SeqEncoder(task: .preset(.blank), tokenizer: bert)
        XCTAssertThrowsError(try encoder.encode(Seq2SeqExample(guid: "train-0", source: "a b", target: "a b", ref: "a b"), split: .train))
    }
}
