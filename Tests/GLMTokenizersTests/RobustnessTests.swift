import Foundation
import GLMSupport
import XCTest
@testable import GLMTokenizers

/// Bad input: malformed files and text must give clear errors or sensible output, never a crash.
final class RobustnessTests: XCTestCase {
    private func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func testMissingVocabFileIsAnErrorNamingTheFile() throws {
        let dir = try tempDir()
        let missing = dir.appendingPathComponent("nope.txt")
        XCTAssertThrowsError(try TokenizerLoader.load(family: .bertWordPiece, files: [missing], taskMask: false)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingFile(path: missing.path))
            XCTAssertTrue("\(error)".contains("nope.txt"))
        }
        XCTAssertThrowsError(try TokenizerPreset.named("glm-huge")) { error in
            XCTAssertTrue("\(error)".contains("glm-huge") && "\(error)".contains("glm-10b-chinese"))
        }
    }

    func testMalformedFilesAreErrorsNamingTheFile() throws {
        let dir = try tempDir()
        let vocab = dir.appendingPathComponent("vocab.json"), merges = dir.appendingPathComponent("merges.txt")
        try Data("{\"a\": 1, \"b\": }".utf8).write(to: vocab)
        try Data("#version\n".utf8).write(to: merges)
        XCTAssertThrowsError(try TokenizerLoader.load(family: .gpt2, files: [vocab, merges], taskMask: true)) { error in
            XCTAssertTrue("\(error)".contains("vocab.json"), "\(error)")
        }
        // A vocab without <|endoftext|> cannot build GPT-2's command tokens.
        try Data("{\"a\": 0}".utf8).write(to: vocab)
        XCTAssertThrowsError(try TokenizerLoader.load(family: .gpt2, files: [vocab, merges], taskMask: true)) { error in
            XCTAssertEqual(error as? TokenizerError, .missingEntry(path: vocab.path, entry: "<|endoftext|>"))
        }
        // A truncated SentencePiece model.
        let model = dir.appendingPathComponent("cog-pretrain.model")
        let shipped = try XCTUnwrap(TokenizerLoader.shippedVocabDirectory).appendingPathComponent("cog-pretrain.model")
        try Data(try Data(contentsOf: shipped).prefix(1000)).write(to: model)
        XCTAssertThrowsError(try TokenizerLoader.load(family: .chineseSentencePiece, files: [model], taskMask: true)) { error in
            XCTAssertTrue("\(error)".contains("cog-pretrain.model"), "\(error)")
        }
        try Data([0xFF, 0xFF, 0xFF]).write(to: model)
        XCTAssertThrowsError(try TokenizerLoader.load(family: .chineseSentencePiece, files: [model], taskMask: true))
    }

    func testInvalidUTF8InVocabFileIsReplacedNotFatal() throws {
        let dir = try tempDir()
        var bytes = Data("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n".utf8)
        bytes.append(contentsOf: [0x77, 0xFF, 0x6F, 0x0A])  // "w\xFFo"
        bytes.append(Data("world\n##s\n".utf8))
        let vocab = dir.appendingPathComponent("vocab.txt")
        try bytes.write(to: vocab)
        let tok = try TokenizerLoader.load(family: .bertWordPiece, files: [vocab], taskMask: false)
        XCTAssertEqual(tok.encode("Hello worlds"), [5, 7, 8])
        XCTAssertEqual(tok.token(for: 6), "w\u{FFFD}o")
        XCTAssertEqual(tok.encode("w\u{FFFD}o"), [100 - 100 + 1])  // U+FFFD is dropped by _clean_text: "wo" → [UNK]
        XCTAssertEqual(tok.numTokens, 9 + 2)
    }

    /// Input read from a file with malformed UTF-8 is decoded with replacement (as the CLI and the
    /// benchmark read files) and then tokenizes like the U+FFFD text.
    func testInvalidUTF8InputText() throws {
        let text = String(decoding: [0x61, 0xFF, 0x62, 0xE2, 0x82, 0x20, 0x63] as [UInt8], as: UTF8.self)
        XCTAssertEqual(text, "a\u{FFFD}b\u{FFFD} c")
        for preset in [TokenizerPreset.glmLarge, .glm10B, .glm10BChinese] {
            let tok = try TokenizerCache.shared.get(preset)
            XCTAssertEqual(tok.encode(text), tok.encode("a\u{FFFD}b\u{FFFD} c"), preset.name)
            XCTAssertFalse(tok.encode(text).isEmpty)
        }
    }

    func testControlCharactersAndWhitespace() throws {
        let bert = try TokenizerCache.shared.get(.glmLarge)
        XCTAssertEqual(bert.encode("a\u{0}b\u{7}c\u{1B}d"), bert.encode("abcd"))
        XCTAssertEqual(bert.encode(" \t\n\u{3000}\u{2028} "), [])
        let gpt = try TokenizerCache.shared.get(.glm10B)
        XCTAssertEqual(gpt.encode("\u{0}\u{1}"), [188, 189])  // bytes 0 and 1 → their stand-ins Ā ā
        XCTAssertEqual(gpt.decode(gpt.encode("x\u{0}y\u{7F}z")), "x\u{0}y\u{7F}z")
        let sp = try TokenizerCache.shared.get(.glm10BChinese)
        XCTAssertEqual(sp.encode("\u{7}"), [])  // nmt_nfkc removes BEL, leaving nothing
        XCTAssertEqual(sp.encode("\u{7}\u{0}"), [43358, 0])  // but keeps NUL, an unknown piece (as the original)
        XCTAssertEqual(sp.encode("\u{3000}"), [])
    }

    func testTextMadeOnlyOfCommandTokens() throws {
        let gpt = try TokenizerCache.shared.get(.glm10B)
        XCTAssertEqual(gpt.encode("[MASK][gMASK] [sMASK]<|endoftext|>[CLS][SEP]"), [50260, 50263, 50264, 50256, 50259, 50261])
        XCTAssertEqual(gpt.encode("[SEP] [SEP]"), [50261, 220, 50261])  // [SEP] does not eat whitespace
        let bert = try TokenizerCache.shared.get(.glmBase)
        XCTAssertEqual(bert.encode("<|startofpiece|><|endofpiece|>[PAD]"), [30522, 30523, 0])
        let zh = try TokenizerCache.shared.get(.glm10BChinese)
        XCTAssertEqual(zh.encode("<|endofpiece|>[gMASK]"), [50007, 50007])
        XCTAssertEqual(zh.token(for: 50007), "[gMASK]")
        XCTAssertNil(zh.token(for: 50005))
        XCTAssertEqual(zh.decode([50005, 50006, 99999, -1]), "<|startofpiece|>")
    }

    func testUnknownIdsAreSkippedWhenDecoding() throws {
        for preset in [TokenizerPreset.glmLarge, .glm10B, .glmRobertaLarge, .glm10BChinese] {
            let tok = try TokenizerCache.shared.get(preset)
            XCTAssertNil(tok.token(for: tok.paddedVocabSize - 1), preset.name)
            XCTAssertNil(tok.token(for: -5))
            let ids = tok.encode("hello")
            XCTAssertEqual(tok.decode([-1] + ids + [tok.paddedVocabSize + 7]), tok.decode(ids), preset.name)
        }
    }

    func testModestLongInputAllFamilies() throws {
        var text = ""
        for i in 0..<400 { text += "Line \(i): the Quick brown fox — 中文文本测试 naïve ΟΔΟΣ don't [MASK] 😀\n" }
        for preset in [TokenizerPreset.glmLarge, .glm10B, .glmRoberta125, .glmLargeChinese] {
            let tok = try TokenizerCache.shared.get(preset)
            let ids = tok.encode(text)
            XCTAssertGreaterThan(ids.count, 400 * 10, preset.name)
            XCTAssertEqual(ids.filter { $0 == tok.commandToken(.MASK) }.count, 400, preset.name)
            // Line-by-line encoding agrees with encoding the whole text wherever lines end in newlines
            // that the tokenizer treats as separators (WordPiece, SentencePiece).
            if preset.family == .bertWordPiece {
                XCTAssertEqual(ids, text.split(separator: "\n").flatMap { tok.encode(String($0)) })
            }
        }
    }

    func testLoneSurrogateEscapesBecomeReplacementCharacters() throws {
        XCTAssertEqual(try JSONText.parseString(Array(#""a\ud800b""#.utf8)), "a\u{FFFD}b")
        XCTAssertEqual(try JSONText.parseString(Array(#""\udc00\ud83d\ude00""#.utf8)), "\u{FFFD}😀")
        XCTAssertEqual(try JSONText.parseString(Array(#""\ud83d""#.utf8)), "\u{FFFD}")
        XCTAssertEqual(try JSONText.parseIntArray(Array(" [1, -2 ,3] ".utf8)), [1, -2, 3])
        XCTAssertThrowsError(try JSONText.parseIntArray(Array("[1.5]".utf8)))
        XCTAssertThrowsError(try JSONText.parseString(Array(#""abc"#.utf8)))
        XCTAssertThrowsError(try JSONText.parseString(Array(#""a" x"#.utf8)))
        XCTAssertEqual(JSONText.quote("a\"\\\n\u{1}é"), #""a\"\\\n\u0001é""#)
        let tok = try TokenizerCache.shared.get(.glm10B)
        XCTAssertEqual(tok.encode(try JSONText.parseString(Array(#""x\ud800""#.utf8))), tok.encode("x\u{FFFD}"))
    }

    func testPresetsAndCommandTokenApi() throws {
        XCTAssertEqual(TokenizerPreset.all.map(\.name), ["glm-base", "glm-large", "glm-large-generation", "glm-410m", "glm-515m",
                                                        "glm-roberta-large", "glm-roberta-1.25", "glm-2b", "glm-10b",
                                                        "glm-large-chinese", "glm-10b-chinese"])
        let zh = try TokenizerCache.shared.get(.glmLargeChinese)
        XCTAssertEqual(CommandName.allCases.map { zh.commandToken($0)! },
                       [50000, 50000, 50001, 50002, 50003, 50004, 50006, 50007, 50009, 50008])
        XCTAssertEqual(zh.maskTokenIds, [50003, 50008, 50009])
        XCTAssertTrue(zh.hasTaskMask)
        let bert = try TokenizerCache.shared.get(.glm515M)
        XCTAssertNil(bert.commandToken(.gMASK))
        XCTAssertEqual(bert.maskTokenNames, ["MASK"])
        XCTAssertEqual(bert.id(for: "[CLS]"), 101)
        XCTAssertEqual(bert.token(for: try XCTUnwrap(bert.id(for: "##ing"))), "##ing")
        XCTAssertEqual(bert.encode("playing").map { bert.token(for: $0)! }.joined(), "playing")
        let rob = try TokenizerCache.shared.get(.glmRobertaLarge)
        XCTAssertEqual(rob.id(for: "<|endoftext|>"), 2)
        XCTAssertEqual(rob.id(for: "[SEP]"), 2)
        XCTAssertEqual(rob.token(for: 2), "[SEP]")
        XCTAssertEqual(rob.encodeInt32("Hello"), rob.encode("Hello").map(Int32.init))
    }
}

/// One shared tokenizer used from several threads gives the same ids as serial use (the piece
/// caches are pooled per caller, the accent cache is locked).
final class ConcurrencyTests: XCTestCase {
    func testConcurrentEncodingMatchesSerial() throws {
        let texts = (0..<64).map { "Sentence \($0): Ünïcödé ΟΔΟΣ 中文 don't [MASK] " + String(repeating: "word\($0 % 7) ", count: $0 % 9) }
        for preset in [TokenizerPreset.glmLarge, .glm10B, .glm10BChinese] {
            let tok = try TokenizerCache.shared.get(preset)
            let serial = texts.map { tok.encode($0) }
            let results = ResultBox(count: texts.count)
            DispatchQueue.concurrentPerform(iterations: texts.count) { i in results.set(i, tok.encode(texts[i])) }
            XCTAssertEqual(results.values, serial, preset.name)
        }
    }
}

private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [[Int]]
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [Int]) { lock.lock(); values[i] = v; lock.unlock() }
}
