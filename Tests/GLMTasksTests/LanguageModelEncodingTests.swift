import XCTest
@testable import GLMTasks

/// Encodings against the original's `LambadaDataset` / `LMDataset` / `build_*_dataset`: exact equality.
final class LanguageModelEncodingTests: XCTestCase {
    func testLambadaSplitTokensAndSamplesEqualEverySetting() throws {
        let lines = try LambadaData.read(try LMFixtures.input("lambada.jsonl"))
        for s in try LMFixtures.settings("lambada.json") {
            let title = LMFixtures.title("lambada.json", s)
            let encoder = try LMFixtures.lambadaEncoder(s)
            let items = s["items"] as! [[String: Any]]
            XCTAssertEqual(items.count, lines.count, title)
            for (i, (item, line)) in zip(items, lines).enumerated() {
                XCTAssertEqual(line.text, item["text"] as? String, "\(title) item \(i)")
                let (context, word) = try encoder.tokens(line.text)
                XCTAssertEqual(context, ints(item["context_ids (LambadaDataset.tokens)"]), "\(title) item \(i): context")
                XCTAssertEqual(word, ints(item["last_word_ids (LambadaDataset.labels)"]), "\(title) item \(i): word")
                let sample = try encoder.encode(line.text)
                XCTAssertEqual(sample, LMFixtures.sample(item), "\(title) item \(i): sample")
                XCTAssertEqual(sample.lossPositions, ints(item["loss_positions"]), "\(title) item \(i)")
            }
        }
    }

    func testPerplexityCorporaAndWindowsEqualEverySetting() throws {
        for file in ["wikitext.json", "lm.json"] {
            for s in try LMFixtures.settings(file) {
                let title = LMFixtures.title(file, s)
                let corpus = try LMFixtures.corpus(file, s)
                XCTAssertEqual(corpus.documents, ints2(s["documents_token_ids"]), title)
                XCTAssertEqual(corpus.numOriginalTokens, (s["num_original_tokens"] as! NSNumber).intValue, title)
                XCTAssertEqual(corpus.numTokenizedTokens, (s["num_tokenized_tokens"] as! NSNumber).intValue, title)
                if let text = s["detokenized_text"] as? String { XCTAssertEqual(corpus.detokenizedText, text, title) }
                let windows = try LMFixtures.windows(s)
                XCTAssertEqual(windows.maxSeqLen, (s["max_seq_len (seq_length-1)"] as! NSNumber).intValue, title)
                XCTAssertEqual(corpus.documents.map { windows.count(documentLength: $0.count) }, ints(s["num_sequences_per_document"]), title)
                let all = try windows.windows(corpus.documents)
                let items = s["items"] as! [[String: Any]]
                XCTAssertEqual(all.count, items.count, title)
                for (i, (w, item)) in zip(all, items).enumerated() {
                    XCTAssertEqual(w.sample, LMFixtures.sample(item), "\(title) window \(i)")
                    XCTAssertEqual(w.sample.lossPositions, ints(item["loss_positions"]), "\(title) window \(i)")
                    XCTAssertEqual(w.sample.lossPositions.map { w.sample.targets[$0] }, ints(item["target_ids_at_loss_positions"]), "\(title) window \(i)")
                }
                XCTAssertEqual(all.reduce(0) { $0 + $1.sample.lossPositions.count }, (s["total_loss_tokens"] as! NSNumber).intValue, title)
            }
        }
    }

    /// The detokenizer's rules one by one, including the quirks the fixture text does not exercise
    /// (expected strings produced by the original `wikitext_detokenizer`).
    func testWikitextDetokenizerRules() {
        let d = WikitextDetokenizer.detokenize
        XCTAssertEqual(d(" = = History = = \n"), " == History ==\n")
        XCTAssertEqual(d("a = = = b = = = = c"), "a === b ==== c")
        XCTAssertEqual(d("3 @.@ 5 , 1 @,@ 204 well @-@ known"), "3.5, 1,204 well-known")
        XCTAssertEqual(d("x ( a b ) y [ c ] { d }"), "x (a b) y [c] {d}")
        XCTAssertEqual(d("( a ( b ) c )"), "(a ( b) c )")  // first `(` pairs with the first `)`
        XCTAssertEqual(d("he said \" hi there \" ."), "he said \"hi there\" .")
        XCTAssertEqual(d("it 's a ' b ' c"), "it's a' b ' c")  // apostrophes pair across words
        XCTAssertEqual(d("the dogs ' bone"), "the dogs' bone")
        XCTAssertEqual(d("/' 7/"), "/'[0-9]/")  // the original's literal-slash "regex"
        XCTAssertEqual(d("were N years"), "were 1 years")
        XCTAssertEqual(d("10 \u{B0} C"), "10\u{B0}C")
        XCTAssertEqual(d("a : b ; c ! d ? e"), "a: b; c! d? e")
        XCTAssertEqual(d("a\r\n b"), "a\r\nb")  // code points, not graphemes
        XCTAssertEqual(d("( unclosed"), "( unclosed")
    }

    func testLambadaStrictSplit() {
        XCTAssertTrue(LambadaEncoder.splitLastWord(" \n ") == nil)
        let a = LambadaEncoder.splitLastWord("he saw the saw  \n")!
        XCTAssertEqual(a.context, "he saw the")
        XCTAssertEqual(a.word, "saw")
        let b = LambadaEncoder.splitLastWord("one")!
        XCTAssertEqual(b.context, "")
        XCTAssertEqual(b.word, "one")
        XCTAssertEqual(LambadaEncoder.splitLastWord("tom picked up the keys.")!.word, "keys.")
    }

    func testLineReaderCountsAndErrors() throws {
        let tokenizer = try Fixtures.scorer("glm-tiny-bert").tokenizer
        let c = try LanguageModelCorpus.lines(text: "a  b c\r\nd e\rf g", tokenizer: tokenizer, file: "x.txt")
        XCTAssertEqual(c.documents.count, 3)
        XCTAssertEqual(c.numOriginalTokens, 4 + 2 + 2)  // `"a  b c".split(" ")` has an empty piece
        XCTAssertThrowsError(try LanguageModelCorpus.lines(text: "a b\n\nc d\n", tokenizer: tokenizer, file: "x.txt")) {
            XCTAssertEqual(($0 as? LanguageModelDataError)?.line, 2)
            XCTAssertTrue("\($0)".hasPrefix("x.txt:2: "), "\($0)")
        }
        XCTAssertThrowsError(try LanguageModelCorpus.lines(text: "a b\nc\n", tokenizer: tokenizer, file: "x.txt")) {
            XCTAssertEqual(($0 as? LanguageModelDataError)?.line, 2)
        }
        XCTAssertThrowsError(try LambadaData.parse("{\"txt\": 1}", file: "l.jsonl", line: 7)) {
            XCTAssertEqual("\($0)", "l.jsonl:7: missing field \"text\"")
        }
        XCTAssertThrowsError(try LambadaData.parse("{\"text\": \"  \"}", file: "l.jsonl", line: 3)) {
            XCTAssertEqual("\($0)", "l.jsonl:3: \"text\" has no word")
        }
        XCTAssertThrowsError(try LanguageModelWindows(tokenizer: tokenizer, seqLength: 24, overlap: 24))
        XCTAssertEqual(try LanguageModelWindows(tokenizer: tokenizer, seqLength: 24, overlap: 0).overlap, 1)
        XCTAssertEqual(try LanguageModelWindows(tokenizer: tokenizer, seqLength: 24).overlap, 23)
    }

    /// Too long LAMBADA inputs are cut from the front; unidirectional inputs can lose only one token.
    func testLambadaTruncation() throws {
        let tokenizer = try Fixtures.scorer("glm-tiny-bert").tokenizer
        let bi = try LambadaEncoder(tokenizer: tokenizer, seqLength: 10)
        let context = Array(1000..<1020), word = [2000, 2001]
        let s = try bi.encode(context: context, word: word)
        XCTAssertEqual(s.ids.count, 10)
        XCTAssertEqual(s.length, 10)
        XCTAssertEqual(Array(s.ids[1..<6]), [1015, 1016, 1017, 1018, 1019])  // context[-5:] + [MASK] + [eos]
        XCTAssertEqual(s.lossPositions, [8, 9])
        let uni = try LambadaEncoder(tokenizer: tokenizer, seqLength: 10, unidirectional: true)
        let ok = try uni.encode(context: Array(1000..<1006), word: word)  // exactly one token too long
        XCTAssertEqual(ok.sep, 3)
        XCTAssertEqual(ok.lossPositions, [8, 9])
        XCTAssertThrowsError(try uni.encode(context: Array(1000..<1007), word: word))
    }
}
