import Foundation
import XCTest
import GLMTestSupport
@testable import GLMTasks

/// Summarization datasets (`SummmaryProcessor` / `XSumProcessor` + `Seq2SeqDataset`) against the
/// original's encodings: every run, every split, every item's example and sample, exactly.
final class Seq2SeqSummarizationTests: XCTestCase {
    func testCnnDmOriginalEveryRunEqualsTheOriginal() throws {
        // BERT (MASK), GLM-10B (GPT-2, sMASK), BERT with --src-seq-length 24 --tgt-seq-length 8.
        XCTAssertEqual(try S2SFixtures.checkAllRuns("cnn_dm_original"), 18)
    }

    func testCnnDmEveryRunEqualsTheOriginal() throws {
        XCTAssertEqual(try S2SFixtures.checkAllRuns("cnn_dm"), 4)
    }

    func testGigawordEveryRunEqualsTheOriginal() throws {
        XCTAssertEqual(try S2SFixtures.checkAllRuns("gigaword"), 12)
    }

    func testXSumEveryRunEqualsTheOriginal() throws {
        XCTAssertEqual(try S2SFixtures.checkAllRuns("xsum"), 4)
    }

    /// The detokenizers rule by rule (expected strings printed by the original functions).
    func testDetokenizers() {
        XCTAssertEqual(Seq2SeqDetokenizer.gigaword("japan 's UNKNOWN corp -lrb- x -rrb- -lsb- y -rsb- -lcb- z -rcb- &amp;lt; &lt;b&gt; <unk> UNK"),
                       "japan 's [UNK]NOWN corp ( x ) [ y ] { z } < <b> [UNK] [UNK]")
        XCTAssertEqual(Seq2SeqDetokenizer.gigaword("a &amp;amp; b"), "a &amp; b")
        let c = "-LRB- CNN -RRB- `` hi '' , he said <S_SEP> it is n't John 's , he 'd say , we 'll go ` x ' -LSB- 1 -RSB- -LCB- -RCB-"
        XCTAssertEqual(Seq2SeqDetokenizer.cnnDM(c, isTarget: false),
                       "( CNN ) \" hi \" , he said  it isn't John's , he'd say , we'll go ' x ' [ 1 ] { }")
        XCTAssertEqual(Seq2SeqDetokenizer.cnnDM(c, isTarget: true),
                       "( CNN ) \" hi \" , he said [SEP] it isn't John's , he'd say , we'll go ' x ' [ 1 ] { }")
        XCTAssertEqual(Seq2SeqDetokenizer.cnnDM("a ``` b '''", isTarget: false), "a \"' b \"'")
        XCTAssertEqual(Seq2SeqDetokenizer.blank("a _UNK <blank> b <blank>"), "a [UNK] [MASK] b [MASK]")
        XCTAssertEqual(Seq2SeqDetokenizer.punctuationStandardization("\u{201C}x\u{201D} \u{2018}y\u{2019} a\u{2013}b \u{2014}"), "\"x\" 'y' a-b \u{2014}")
    }

    /// Presets equal `config_tasks/seq_*.sh`.
    func testPresets() {
        let expected: [(Seq2SeqTaskKind, Int, Int, Int, Double, Int, Int)] = [
            (.cnnDMOriginal, 608, 160, 55, 0.7, 5, 1), (.cnnDM, 608, 160, 55, 0.7, 5, 4), (.xsum, 608, 60, 10, 1.0, 6, 1),
            (.gigaword, 192, 32, 0, 0.6, 5, 4), (.customization, 512, 128, 55, 0.7, 5, 1), (.blank, 256, 200, 0, 1, 1, 8),
        ]
        for (kind, src, tgt, minTgt, lp, beams, batch) in expected {
            let t = Seq2SeqTask.preset(kind)
            XCTAssertEqual([t.srcSeqLength, t.tgtSeqLength, t.minTgtLength, t.numBeams, t.evalBatchSize, t.noRepeatNgramSize],
                           [src, tgt, minTgt, beams, batch, 3], kind.rawValue)
            XCTAssertEqual(t.lengthPenalty, lp, kind.rawValue)
            XCTAssertEqual(t.selectTopK, kind != .blank, kind.rawValue)
        }
        XCTAssertEqual(Seq2SeqTask.preset(.cnnDM, taskMask: true).maskCommand, .sMASK)
        XCTAssertEqual(Seq2SeqTask.preset(.blank, taskMask: true).maskCommand, .gMASK)
        XCTAssertEqual(Seq2SeqTask.preset(.xsum).maskCommand, .MASK)
        XCTAssertEqual(Seq2SeqTask.preset(.blank, blankMaskRatio: 0.3).blankSampleLength, 256 + 76)
    }

    func testXSumSectionParsing() throws {
        let text = "[SN]URL[SN]\nhttp://x\n\n[SN]FIRST-SENTENCE[SN]\n  A  \nB\n\n[SN]RESTBODY[SN]\r\nC\r\n\r\n D \n[SN]FIRST-SENTENCE[SN]\nE\n"
        let doc = try XSumData.parse(text: text)
        XCTAssertEqual(doc.source, "C D")
        XCTAssertEqual(doc.target, "E")  // a repeated section overwrites
        XCTAssertEqual(doc.line, 8)
        XCTAssertThrowsError(try XSumData.parse(text: "[SN]RESTBODY[SN]\nx\n", file: "a.summary")) { e in
            XCTAssertEqual((e as? Seq2SeqDataError)?.file, "a.summary")
            XCTAssertTrue("\(e)".contains("FIRST-SENTENCE"), "\(e)")
        }
    }

    func testBadDataFilesNameFileAndLine() throws {
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "s2s-bad")
        let tok = try S2SFixtures.bert()
        func write(_ name: String, _ text: String) throws { try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8) }
        try write("train.source", "a\nb\nc\n")
        try write("train.target", "x\ny\n")
        XCTAssertThrowsError(try Seq2SeqData.examples(task: .preset(.cnnDM), split: .train, dataDirectory: dir, tokenizer: tok)) { e in
            let err = e as? Seq2SeqDataError
            XCTAssertEqual(err?.file, dir + "/train.source")
            XCTAssertEqual(err?.line, 3)
        }
        XCTAssertThrowsError(try Seq2SeqData.examples(task: .preset(.gigaword), split: .dev, dataDirectory: dir, tokenizer: tok)) { e in
            XCTAssertEqual((e as? Seq2SeqDataError)?.file, dir + "/val.source")
            XCTAssertTrue("\(e)".contains("no such file"), "\(e)")
        }
        try Data([0x61, 0x0A, 0x62, 0xFF, 0x0A]).write(to: URL(fileURLWithPath: dir + "/test.source"))
        try write("test.target", "x\ny\n")
        XCTAssertThrowsError(try Seq2SeqData.examples(task: .preset(.customization), split: .test, dataDirectory: dir, tokenizer: tok)) { e in
            XCTAssertEqual((e as? Seq2SeqDataError)?.line, 2)
            XCTAssertTrue("\(e)".contains("UTF-8"), "\(e)")
        }
        try write(XSumData.splitFile, "{\"train\": [\"1\", 2]}")
        XCTAssertThrowsError(try Seq2SeqData.examples(task: .preset(.xsum), split: .dev, dataDirectory: dir, tokenizer: tok)) { e in
            XCTAssertTrue("\(e)".contains("\"validation\""), "\(e)")
        }
        XCTAssertThrowsError(try Seq2SeqData.examples(task: .preset(.xsum), split: .train, dataDirectory: dir, tokenizer: tok)) { e in
            XCTAssertEqual((e as? Seq2SeqDataError)?.file, dir + "/1.summary")
        }
    }

    func testEncoderRejectsImpossibleLengths() throws {
        let tok = try S2SFixtures.bert()
        var t = Seq2SeqTask.preset(.cnnDM)
        t.srcSeqLength = 3  // [CLS] [MASK] content : is 4 tokens
        XCTAssertThrowsError(try Seq2SeqEncoder(task: t, tokenizer: tok))
        t.srcSeqLength = 4
        XCTAssertNoThrow(try Seq2SeqEncoder(task: t, tokenizer: tok))
        t.tgtSeqLength = 0
        XCTAssertThrowsError(try Seq2SeqEncoder(task: t, tokenizer: tok))
        XCTAssertThrowsError(try Seq2SeqEncoder(task: .preset(.cnnDM, taskMask: true), tokenizer: tok)) { e in
            XCTAssertTrue("\(e)".contains("sMASK"), "\(e)")
        }
    }
}
