import XCTest
@testable import GLMTasks

/// ROUGE against `tasks/seq2seq/rouge.json`: rouge-score 0.1.2 per pair and the original's `rouge_metric`.
final class RougeTests: XCTestCase {
    /// Measured: every fixture number is reproduced bit for bit (max |Δ| = 0); 1e-12 only guards against
    /// a platform's last-bit difference in the division.
    static let tolerance = 1e-12

    /// Decoded with `JSONDecoder`: on Linux `JSONSerialization` mis-rounds some doubles by one ulp
    /// (0.13793103448275862 reads as …67), which would hide a bit-exact match.
    static func fixture() throws -> RougeFixture {
        try JSONDecoder().decode(RougeFixture.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.require("tasks/seq2seq/rouge.json"))))
    }

    func testPlainScoresMatchEveryPairOfTheFixture() throws {
        let pairs = try Self.fixture().plain
        XCTAssertEqual(pairs.count, 6)
        let scorer = RougeScorer()
        var maxDelta = 0.0
        for (k, pair) in pairs.enumerated() {
            let got = scorer.score(reference: pair.reference, prediction: pair.hypothesis)
            for (name, score, e) in [("rouge1", got.rouge1, pair.rouge1), ("rouge2", got.rouge2, pair.rouge2),
                                     ("rougeL", got.rougeL, pair.rougeL), ("rougeLsum", got.rougeLsum, pair.rougeLsum)] {
                for (field, value, expected) in [("precision", score.precision, e.precision), ("recall", score.recall, e.recall),
                                                 ("f1", score.fmeasure, e.f1)] {
                    maxDelta = max(maxDelta, abs(value - expected))
                    XCTAssertEqual(value, expected, accuracy: Self.tolerance, "pair \(k) \(name).\(field)")
                }
            }
        }
        print("rouge plain: max |Δ| vs rouge-score = \(maxDelta)")
        XCTAssertEqual(maxDelta, 0, "measured bit-exact on x86-64 Linux")
    }

    func testOriginalRougeMetricMatchesEveryModeAndProcessedLine() throws {
        let f = try Self.fixture()
        XCTAssertEqual(Set(f.original.keys), ["cnn_dm", "cnn_dm_org", "gigaword"])
        var maxDelta = 0.0
        for (name, expected) in f.original {
            let mode = try XCTUnwrap(RougeMode(rawValue: name))
            let result = try RougeMetric.evaluate(predictions: f.pairs.map(\.hypothesis), references: f.pairs.map(\.reference), mode: mode)
            for (metric, e) in [("rouge-1", expected.rouge1), ("rouge-2", expected.rouge2), ("rouge-l", expected.rougeL)] {
                let got = try XCTUnwrap(result.originalMetrics[metric])
                maxDelta = max(maxDelta, abs(got - e))
                XCTAssertEqual(got, e, accuracy: Self.tolerance, "\(name) \(metric)")
            }
            XCTAssertEqual(result.predictions, expected.lines.map(\.pred), name)
            XCTAssertEqual(result.references, expected.lines.map(\.ref), name)
        }
        print("rouge original: max |Δ| vs rouge_metric = \(maxDelta)")
        XCTAssertEqual(maxDelta, 0, "measured bit-exact on x86-64 Linux")
    }

    /// Checked one by one against NLTK's `PorterStemmer().stem` (NLTK_EXTENSIONS mode).
    func testPorterStemmerAgreesWithNLTK() {
        let cases = [
            ("caresses", "caress"), ("ponies", "poni"), ("ties", "tie"), ("cats", "cat"), ("feed", "feed"),
            ("agreed", "agre"), ("plastered", "plaster"), ("motoring", "motor"), ("sing", "sing"),
            ("conflated", "conflat"), ("hopping", "hop"), ("falling", "fall"), ("filing", "file"),
            ("happy", "happi"), ("relational", "relat"), ("conditional", "condit"), ("generously", "gener"),
            ("dying", "die"), ("skies", "sky"), ("flies", "fli"), ("dies", "die"), ("spied", "spi"),
            ("died", "die"), ("enjoy", "enjoy"), ("geology", "geolog"), ("theology", "theolog"),
            ("fully", "fulli"), ("hopefully", "hope"), ("controll", "control"), ("roll", "roll"),
            ("probate", "probat"), ("cease", "ceas"), ("running", "run"), ("runners", "runner"),
            ("rains", "rain"), ("quickly", "quickli"), ("electrical", "electr"), ("formalize", "formal"),
            ("adoption", "adopt"), ("replacement", "replac"), ("syzygy", "syzygi"), ("yyyy", "yyyi"),
            ("news", "news"), ("proceed", "proceed"), ("innings", "inning"), ("says", "say"),
            ("Running", "run"), ("is", "is"), ("as", "as"),
        ]
        let stemmer = PorterStemmer()
        for (word, stem) in cases { XCTAssertEqual(stemmer.stem(word), stem, word) }
    }

    /// Only tokens longer than 3 characters are stemmed; everything outside [a-z0-9] separates tokens.
    func testTokenizerAsRougeScore() {
        let scorer = RougeScorer()
        XCTAssertEqual(scorer.tokenize("The runner RAN, it's 12%-ish... café"), ["the", "runner", "ran", "it", "s", "12", "ish", "caf"])
        XCTAssertEqual(scorer.tokenize("dies ties was"), ["die", "tie", "was"])  // `was` (3 letters) not stemmed to `wa`
        XCTAssertEqual(RougeScorer(useStemmer: false).tokenize("Running runs"), ["running", "runs"])
        XCTAssertEqual(scorer.tokenize(" \n"), [])
    }

    /// rougeLsum splits on "\n" only; with one sentence on each side it equals rougeL.
    func testRougeLsumUsesNewlineSentences() {
        let scorer = RougeScorer()
        let one = scorer.score(reference: "a b c d e", prediction: "a c b d e")
        XCTAssertEqual(one.rougeL, one.rougeLsum)
        // Union LCS: ref sentence "a b c d" against candidate sentences "a b" and "c d" → 4 hits of 4.
        let two = scorer.score(reference: "a b c d", prediction: "a b\nc d")
        XCTAssertEqual(two.rougeLsum, RougeScore(precision: 1, recall: 1))
        XCTAssertEqual(two.rougeL.fmeasure, 1)
        XCTAssertEqual(scorer.score(reference: "", prediction: "a").rougeLsum, .zero)
        XCTAssertEqual(scorer.score(reference: "a", prediction: "").rouge1, .zero)
    }

    /// PTB-style fix-ups of the original's `fix_tokenization` (outputs checked against the Python function).
    func testFixTokenizationCNNDM() {
        let cases = [
            ("he said \" it is n't over \" .", "he said `` it is n't over '' ."),
            ("the company ' s profits", "the company 's profits"),
            ("wait . . . what", "wait ... what"),
            ("$ 3 , 000 and 3 . 03", "$ 3,000 and 3.03"),
            ("the U . N . S . council", "the U.N. S . council"),  // the original's scan skips a token
            ("anti - nuclear protest", "anti-nuclear protest"),
            ("a - - b", "a -- b"),
            ("- start and end -", "- start and end -"),
            ("x ( - ) y", "x ( - ) y"),
            ("it ' d be ' quoted ' here", "it 'd be ` quoted ' here"),
            ("we ' ll see", "we 'll see"),
            ("don ' t go", "do n't go"),
            ("it is n ' t", "it is  n't"),  // the lone `n` is emptied, leaving two spaces
        ]
        for (input, output) in cases { XCTAssertEqual(RougeMetric.fixTokenization(input, mode: .cnnDM), output, input) }
        XCTAssertEqual(RougeMetric.fixTokenization("a [UNK] b & c", mode: .gigaword), "a UNK b & c")
        XCTAssertEqual(RougeMetric.fixTokenization(" a  ( b ", mode: .cnnDMOrg), " a  ( b ")
    }

    /// Short sentences are dropped; a sentence mostly made of earlier words is dropped, and dropped
    /// sentences still feed the history.
    func testPredictionSentenceFilters() {
        XCTAssertEqual(RougeMetric.processPrediction("one two three four [SEP] one two three four five", mode: .cnnDMOrg),
                       " one two three four five")
        // 2nd: 4 of 5 words seen (0.8 > 0.7) → dropped; 3rd: 4 of 5 seen only because the DROPPED 2nd added `x`.
        let p = "a b c d e [SEP] a b c d x [SEP] x a b c z"
        XCTAssertEqual(RougeMetric.processPrediction(p, mode: .cnnDM), "a b c d e")
        XCTAssertEqual(RougeMetric.processPrediction("a b c d e [SEP] a b c x y", mode: .cnnDM), "a b c d e\na b c x y")  // 0.6 kept
        XCTAssertEqual(RougeMetric.processReference(" x y [SEP] z ", mode: .cnnDMOrg), "x y \n z")
        XCTAssertEqual(RougeMetric.processReference(" x y [SEP] z ", mode: .cnnDM), "x y\nz")
    }

    /// The original calls `score(pred, ref)`; its F1 is kept, precision/recall are swapped back.
    func testOriginalModeReportsSwappedCallOriented() throws {
        let r = try RougeMetric.evaluate(predictions: ["the cat sat on the mat today"], references: ["the cat sat"], mode: .cnnDM)
        XCTAssertEqual(r.mean.rouge1.precision, 3.0 / 7.0, accuracy: 1e-15)
        XCTAssertEqual(r.mean.rouge1.recall, 1)
        let swapped = RougeScorer().score(reference: r.predictions[0], prediction: r.references[0])
        XCTAssertEqual(r.mean.rougeLsum.fmeasure, swapped.rougeLsum.fmeasure)
    }

    func testFilesCoreOfGlmRouge() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rouge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pred = dir.appendingPathComponent("pred.txt").path, ref = dir.appendingPathComponent("ref.txt").path
        let short = dir.appendingPathComponent("short.txt").path
        try "the cat sat on the mat .\r\nprofits rose .\n".write(toFile: pred, atomically: true, encoding: .utf8)
        try "the cat was sitting on the mat .\nprofits rose 12 % in the third quarter .".write(toFile: ref, atomically: true, encoding: .utf8)
        try "only one line\n".write(toFile: short, atomically: true, encoding: .utf8)

        let plain = try RougeMetric.evaluate(predictionFile: pred, referenceFile: ref, mode: .plain)
        XCTAssertEqual(plain.pairs.count, 2)
        XCTAssertEqual(plain.predictions[0], "the cat sat on the mat .")
        let first = RougeScorer().score(reference: "the cat was sitting on the mat .", prediction: "the cat sat on the mat .")
        XCTAssertEqual(plain.pairs[0], first)
        XCTAssertEqual(plain.mean.rouge1.precision, (plain.pairs[0].rouge1.precision + plain.pairs[1].rouge1.precision) / 2)

        let line = plain.jsonLine
        let json = try JSONDecoder().decode([String: [String: Double]].self, from: Data(line.utf8))
        XCTAssertEqual(Set(json.keys), ["rouge1", "rouge2", "rougeL", "rougeLsum"])
        XCTAssertEqual(json["rougeLsum"]?["fmeasure"], plain.mean.rougeLsum.fmeasure)
        XCTAssertEqual(json["rouge2"]?["recall"], plain.mean.rouge2.recall)

        XCTAssertThrowsError(try RougeMetric.evaluate(predictionFile: pred, referenceFile: short, mode: .cnnDM)) { error in
            XCTAssertEqual(error as? RougeError, .lineCountMismatch(predictionFile: pred, predictions: 2, referenceFile: short, references: 1))
            let text = "\(error)"
            XCTAssertTrue(text.contains(pred) && text.contains(short) && text.contains("2") && text.contains("1"), text)
        }
        XCTAssertThrowsError(try RougeMetric.evaluate(predictions: [], references: [], mode: .plain))
        XCTAssertEqual(RougeMetric.lines("a\n\nb\n"), ["a", "", "b"])
        XCTAssertEqual(RougeMetric.lines(""), [])
    }
}

/// `tasks/seq2seq/rouge.json`.
struct RougeFixture: Decodable {
    struct Score: Decodable { let precision, recall, f1: Double }
    struct Pair: Decodable { let hypothesis, reference: String }
    struct PlainPair: Decodable { let hypothesis, reference: String; let rouge1, rouge2, rougeL, rougeLsum: Score }
    struct Line: Decodable { let ref, pred: String }
    struct Original: Decodable {
        let rouge1, rouge2, rougeL: Double
        let lines: [Line]
        enum CodingKeys: String, CodingKey { case rouge1 = "rouge-1", rouge2 = "rouge-2", rougeL = "rouge-l", lines = "results_json_lines" }
    }
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    let plain: [PlainPair]
    let pairs: [Pair]
    /// Under the key `original_rouge_metric (tasks/seq2seq/evaluate.py rouge_metric, …)`.
    let original: [String: Original]

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        plain = try c.decode([PlainPair].self, forKey: Key(stringValue: "per_pair_plain_rouge_score"))
        pairs = try c.decode([Pair].self, forKey: Key(stringValue: "pairs"))
        guard let key = c.allKeys.first(where: { $0.stringValue.hasPrefix("original_rouge_metric") }) else {
            throw DecodingError.keyNotFound(Key(stringValue: "original_rouge_metric"), .init(codingPath: [], debugDescription: "missing"))
        }
        original = try c.decode([String: Original].self, forKey: key)
    }
}
