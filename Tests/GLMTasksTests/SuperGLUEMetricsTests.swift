import XCTest
@testable import GLMTasks

/// The metric functions on hand-made cases; the fixture splits are checked in `ClozeScorerTests`.
/// Expected ReCoRD normalisations were produced by the original's `normalize_answer` with `unidecode` 1.4.
final class SuperGLUEMetricsTests: XCTestCase {
    func testAccuracyAndF1AsScikitLearn() {
        XCTAssertEqual(ClassificationMetrics.accuracy(predictions: [1, 0, 1], labels: [1, 1, 1]), 200.0 / 3)
        XCTAssertEqual(ClassificationMetrics.accuracy(predictions: [], labels: []), 0)
        XCTAssertEqual(ClassificationMetrics.f1(predictions: [1, 1, 0, 0, 1], labels: [1, 0, 1, 0, 1]), 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(ClassificationMetrics.f1(predictions: [0, 0], labels: [1, 0]), 0)      // nothing predicted positive
        // A label that is never predicted counts with F1 0; a label in neither list does not count.
        XCTAssertEqual(ClassificationMetrics.macroF1(predictions: [0, 0, 0, 0], labels: [0, 1, 2, 0]), (2.0 / 3) / 3, accuracy: 1e-15)
        XCTAssertEqual(ClassificationMetrics.macroF1(predictions: [0, 1], labels: [0, 1]), 1)
        // A predicted label absent from the gold labels counts too.
        XCTAssertEqual(ClassificationMetrics.macroF1(predictions: [2, 0], labels: [0, 0]), (2.0 / 3) / 2, accuracy: 1e-15)
    }

    func testMultiRCExactMatchGroupsByQuestionIdxOnly() {
        XCTAssertEqual(MultiRCMetrics.exactMatch(predictions: [1, 0, 1, 0, 0], labels: [1, 0, 1, 1, 0], questionIds: [0, 0, 1, 1, 0]), 0.5)
        XCTAssertEqual(MultiRCMetrics.exactMatch(predictions: [1, 1], labels: [1, 1], questionIds: [3, 3]), 1)
    }

    func testNormalizeAnswerAsTheOriginal() {
        let cases: [(String, String)] = [
            ("The Eiffel Tower!", "eiffel tower"),
            ("Ångström's Café", "angstroms cafe"),
            ("Łódź—the city", "lodzthe city"),
            ("an apple a day", "apple day"),
            ("A_the an-the", "athe anthe"),
            ("Théâtre  du\u{a0}Châtelet", "theatre du chatelet"),
            ("İstanbul", "istanbul"),
            ("Straße “quoted” …", "strasse quoted"),
            ("The anthem of the Theban", "anthem of theban"),
            ("Œuvre ½ x²", "oeuvre 12 x2"),
            ("the_end", "theend"),
            ("  Ph.D.\tin\nthe U.S.  ", "phd in us"),
        ]
        for (input, expected) in cases { XCTAssertEqual(ReCoRDMetrics.normalizeAnswer(input), expected, input) }
    }

    func testReCoRDExactMatchAndF1() {
        XCTAssertEqual(ReCoRDMetrics.f1(prediction: "Marcus Rashford", groundTruth: "Rashford"), 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(ReCoRDMetrics.f1(prediction: "the Manchester United", groundTruth: "Manchester United F.C."), 0.8, accuracy: 1e-15)
        XCTAssertEqual(ReCoRDMetrics.f1(prediction: "Paris", groundTruth: "London"), 0)
        XCTAssertEqual(ReCoRDMetrics.f1(prediction: "a a b", groundTruth: "a b b"), 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(ReCoRDMetrics.f1(prediction: "x y y z", groundTruth: "y y y x"), 0.75, accuracy: 1e-15)
        XCTAssertTrue(ReCoRDMetrics.exactMatch(prediction: "The Café", groundTruth: "cafe"))
        // The max over gold answers; an example without answers scores 0 but still counts in the mean.
        let candidates = [["Paris", "Eiffel Tower"], ["Rashford", "Salah"], ["x"]]
        let answers = [["the Eiffel Tower", "Tower"], ["Marcus Rashford"], []]
        XCTAssertEqual(ReCoRDMetrics.exactMatch(predictions: [1, 0, 0], candidates: candidates, answers: answers), 100.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(ReCoRDMetrics.f1(predictions: [1, 0, 0], candidates: candidates, answers: answers), 100 * (1 + 2.0 / 3) / 3, accuracy: 1e-12)
    }

    func testUnidecodeCoverage() {
        XCTAssertEqual(Unidecode.transliterate("Ærøskøbing Þór ĳssel ŉ ſ"), "AEroskobing Thor ijssel 'n s")
        XCTAssertEqual(Unidecode.transliterate("a\u{301}\u{363} – — ‘x’ “y” • …"), "aa - -- 'x' \"y\" * ...")
        XCTAssertEqual(Unidecode.transliterate("北京 Ω"), "北京 Ω", "outside the coverage: kept")
    }

    func testDefaultMetricsPerTask() throws {
        XCTAssertEqual(SuperGLUEMetrics.names(task: "MultiRC"), ["f1a", "em", "acc"])
        XCTAssertEqual(SuperGLUEMetrics.names(task: "cb"), ["accuracy", "f1-macro"])
        XCTAssertEqual(SuperGLUEMetrics.names(task: "record"), ["EM", "F1"])
        XCTAssertEqual(SuperGLUEMetrics.names(task: "wsc"), ["accuracy"])
        XCTAssertNil(SuperGLUEMetrics.names(task: "nope"))
        XCTAssertThrowsError(try SuperGLUEMetrics.compute(task: "multirc", predictions: [1], labels: [1]))
        let m = try SuperGLUEMetrics.compute(task: "multirc", predictions: [1, 0], labels: [1, 1],
                                             examples: [SuperGLUEMetricExample(questionIdx: 0), SuperGLUEMetricExample(questionIdx: 0)])
        XCTAssertEqual(m.map(\.name), ["f1a", "em", "acc"])
        XCTAssertEqual(m.map(\.value), [2.0 / 3, 0, 50])
    }
}
