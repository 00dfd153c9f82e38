import XCTest
import GLMTokenizers
import GLMTestSupport
@testable import GLMTasks

/// Python's `random.Random`, the readers' edge cases and their errors.
final class SuperGLUEProcessorTests: XCTestCase {
    /// Outputs of CPython 3.11 (`random.Random(seed)`), written down from
    /// `python3 -c "import random; r=random.Random(42); l=list(range(12)); r.shuffle(l); print(l)"` etc.
    func testPythonRandomMatchesCPython() {
        var r = PythonRandom(seed: 42)
        XCTAssertEqual((0..<3).map { _ in r.getrandbits(32) }, [2746317213, 478163327, 107420369])
        var r0 = PythonRandom(seed: 0)
        XCTAssertEqual((0..<2).map { _ in r0.getrandbits(32) }, [3626764237, 1654615998])
        var big = PythonRandom(seed: (1 << 40) + 5)
        XCTAssertEqual((0..<2).map { _ in big.getrandbits(32) }, [2166296868, 2220160828])
        // One generator, three shuffles in a row (the ReCoRD reader keeps one per file).
        var s = PythonRandom(seed: 42)
        var a = Array(0..<12); s.shuffle(&a)
        XCTAssertEqual(a, [7, 5, 2, 8, 9, 6, 11, 3, 4, 0, 1, 10])
        var b = Array(0..<10); s.shuffle(&b)
        XCTAssertEqual(b, [5, 3, 2, 8, 4, 6, 7, 1, 9, 0])
        var c = [0, 1]; s.shuffle(&c)
        XCTAssertEqual(c, [0, 1])
    }

    func testBadLinesNameFileAndLine() {
        let p = SuperGLUEProcessor(task: .rte)
        XCTAssertThrowsError(try p.examples(jsonl: "{\"premise\": \"a\", \"hypothesis\": \"b\", \"idx\": 0}\n\n{oops", file: "x.jsonl", split: .dev)) {
            XCTAssertTrue("\($0)".hasPrefix("x.jsonl:3: malformed JSON"), "\($0)")
        }
        XCTAssertThrowsError(try p.examples(jsonl: "{\"premise\": \"a\", \"idx\": 0}", file: "y.jsonl", split: .dev)) {
            XCTAssertEqual("\($0)", "y.jsonl:1: missing field \"hypothesis\"")
        }
        XCTAssertThrowsError(try p.examples(folder: "/nonexistent-folder", split: .train)) {
            XCTAssertTrue("\($0)".contains("/nonexistent-folder/train.jsonl"), "\($0)")
        }
    }

    /// RTE idx strings go through `int()`, else the line index; texts are punctuation-standardized.
    func testRTEIdxAndStandardization() throws {
        let text = """
        {"premise": "\u{201C}Hi\u{201D} \u{2013} it\u{2019}s", "hypothesis": "h", "idx": "x7", "label": "entailment"}
        {"premise": "p", "hypothesis": "h", "idx": " 12 "}
        """
        let ex = try SuperGLUEProcessor(task: .rte).examples(jsonl: text, split: .test)
        XCTAssertEqual(ex.map(\.guid), ["test-0", "test-12"])
        XCTAssertEqual(ex[0].textA, "\"Hi\" - it's")
        XCTAssertEqual(ex[1].label, .null)
    }

    /// A pronoun glued to punctuation is split off, which changes the text; span indices are corrected.
    func testWSCPronounGluedToPunctuation() throws {
        let line = #"{"text": "Tom thanked him. Then left.", "target": {"span1_index": 1, "span1_text": "Tom", "span2_index": 2, "span2_text": "him"}, "idx": 5, "label": false}"#
        let ex = try SuperGLUEProcessor(task: .wsc).examples(jsonl: line, split: .dev)
        XCTAssertEqual(ex.count, 1)
        XCTAssertEqual(ex[0].textA, "Tom thanked him . Then left.")
        XCTAssertEqual(ex[0].meta["span1_index"], .int(0))
        XCTAssertEqual(ex[0].label, .string("False"))
        // The same glued pronoun as the LAST word: the original's offset loop raises IndexError; here an error.
        let last = #"{"text": "Tom thanked him.", "target": {"span1_index": 0, "span1_text": "Tom", "span2_index": 2, "span2_text": "him"}, "idx": 6, "label": true}"#
        XCTAssertThrowsError(try SuperGLUEProcessor(task: .wsc).examples(jsonl: last, file: "wsc.jsonl", split: .dev)) {
            XCTAssertTrue("\($0)".hasPrefix("wsc.jsonl:1: span2_index 3"), "\($0)")
        }
        // Train keeps only True examples.
        XCTAssertEqual(try SuperGLUEProcessor(task: .wsc).examples(jsonl: line, split: .train).count, 0)
    }

    func testPatternErrors() throws {
        XCTAssertThrowsError(try PatternVerbalizer(task: .copa, patternId: 2)) { XCTAssertTrue("\($0)".contains("no pattern 2"), "\($0)") }
        let pvp = try PatternVerbalizer(task: .record, patternId: 0)
        let ex = SuperGLUEExample(guid: "dev-p0-q0", textA: "t", textB: "no placeholder", meta: ["candidates": .array([.string("a")])])
        XCTAssertThrowsError(try pvp.parts(ex)) { XCTAssertTrue("\($0)".contains("@placeholder"), "\($0)") }
    }

    /// Where nothing shortenable is left the original crashes; here it is an error naming the example.
    func testTruncationThatCannotFitIsAnError() throws {
        let tokenizer = try TokenizerPreset.glmLarge.load()
        var settings = SuperGLUESettings.glmLarge(.copa)
        settings.seqLength = 8
        let encoder = try ClozeEncoder(tokenizer: tokenizer, settings: settings, split: .dev)
        let ex = SuperGLUEExample(guid: "dev-9", textA: "The man fell.", label: .int(0),
                                  meta: ["choice1": .string("He tripped."), "choice2": .string("He sang."), "question": .string("cause")])
        XCTAssertThrowsError(try encoder.encode(ex)) { XCTAssertTrue("\($0)".contains("dev-9"), "\($0)") }
    }

    /// The folder layout (train.jsonl / val.jsonl) gives the same dataset as reading the files.
    func testDatasetFromFolder() throws {
        let folder = try ReferenceFixtures.scratchFolder(for: self, prefix: "superglue-rte")
        let input = try SuperGLUEFixtures.inputPath("rte")
        for name in ["train.jsonl", "val.jsonl"] {
            try FileManager.default.copyItem(atPath: input, toPath: folder + "/" + name)
        }
        let tokenizer = try SuperGLUEFixtures.tokenizer("BertWordPieceTokenizer")
        let settings = SuperGLUESettings.glmLarge(.rte)
        let fromFolder = try SuperGLUEDataset(settings: settings, split: .dev, folder: folder, tokenizer: tokenizer)
        let fromFile = try SuperGLUEDataset(settings: settings, split: .dev,
                                            examples: try SuperGLUEProcessor(task: .rte).examples(file: input, split: .dev), tokenizer: tokenizer)
        XCTAssertEqual(fromFolder.examples, fromFile.examples)
        XCTAssertEqual(fromFolder.samples, fromFile.samples)
        XCTAssertEqual(fromFolder.samples.count, 4)
        XCTAssertThrowsError(try SuperGLUEDataset(settings: settings, split: .test, folder: folder, tokenizer: tokenizer)) {
            XCTAssertTrue("\($0)".contains("test.jsonl"), "\($0)")
        }
    }

    /// GLM-10B's script appends `--pattern-id 0`, overriding the task's pattern (BoolQ 4, CB 3, WiC 1, WSC 2).
    func testGLM10BOverridesThePatternId() {
        XCTAssertEqual(SuperGLUESettings.glmLarge(.boolq).patternId, 4)
        XCTAssertEqual(SuperGLUESettings.glm10B(.boolq).patternId, 0)
        XCTAssertEqual(SuperGLUESettings.glm10B(.wsc).patternId, 0)
        XCTAssertEqual(SuperGLUESettings.glm10B(.wsc).lossFunc, "mix")
        XCTAssertEqual(SuperGLUESettings.glm10B(.cb).tokenizer, .glm10B)
        XCTAssertTrue(SuperGLUESettings.glm10B(.cb).taskMask)
        XCTAssertEqual(SuperGLUESettings.glmLarge(.record).seqLength, 512)
    }
}
