import XCTest
@testable import GLMTasks

/// Every pattern id of every task's pattern-verbalizer pair (the fixtures use one pattern per task):
/// part texts, which parts are shortenable, and the answers / verbalizers. Expected values were written
/// down from running the original's `tasks/superglue/pvp.py` `get_parts` / `get_answers` (no continuous
/// prompt) on the examples below.
final class SuperGLUEPatternTests: XCTestCase {
    struct Case {
        let task: SuperGLUETask, pattern: Int, a: String, b: String, shortA: [Bool], shortB: [Bool], answers: [String]
        init(_ task: SuperGLUETask, _ pattern: Int, a: String, b: String, shortA: [Bool], shortB: [Bool], answers: [String]) {
            self.task = task; self.pattern = pattern; self.a = a; self.b = b; self.shortA = shortA; self.shortB = shortB; self.answers = answers
        }
    }

    static let examples: [SuperGLUETask: SuperGLUEExample] = [
        .rte: SuperGLUEExample(guid: "dev-0", textA: "The cat sat on the mat.", textB: "A cat sat!", label: .string("entailment")),
        .cb: SuperGLUEExample(guid: "dev-0", textA: "The cat sat on the mat.", textB: "A cat sat!", label: .string("neutral")),
        .boolq: SuperGLUEExample(guid: "dev-0", textA: "The sun is a star.", textB: "is the sun a star", label: .string("true")),
        .wic: SuperGLUEExample(guid: "dev-0", textA: "I run daily.", textB: "They run fast.", label: .string("true"), meta: ["word": .string("run")]),
        .multirc: SuperGLUEExample(guid: "dev-0", textA: "Sara lived by the sea.<br> ", textB: "Where did Sara live? ", label: .int(1),
                                   meta: ["answer": .string("By the sea")]),
        .copa: SuperGLUEExample(guid: "dev-0", textA: "The man fell.", label: .int(0),
                                meta: ["choice1": .string("He tripped."), "choice2": .string("He sang!"), "question": .string("effect")]),
        .wsc: SuperGLUEExample(guid: "dev-0", textA: "Bob thanked Tom because he helped.", label: .string("True"),
                               meta: ["span1_text": .string("Tom"), "span2_text": .string("he"), "span1_index": .int(2), "span2_index": .int(4),
                                      "candidates": .array([.string("Bob")])]),
    ]

    static let cases: [Case] = [
        Case(.rte, 0, a: "\"A cat sat\" ?", b: "[MASK], \"The cat sat on the mat.\"", shortA: [false, true, false], shortB: [false, false, false, true, false], answers: [" Yes", " No"]),
        Case(.rte, 1, a: "A cat sat?", b: "[MASK], The cat sat on the mat.", shortA: [true, false], shortB: [false, false, true], answers: [" Yes", " No"]),
        Case(.rte, 2, a: "\"A cat sat\" ?", b: "[MASK]. \"The cat sat on the mat.\"", shortA: [false, true, false], shortB: [false, false, true, false], answers: [" Yes", " No"]),
        Case(.rte, 3, a: "A cat sat?", b: "[MASK]. The cat sat on the mat.", shortA: [true, false], shortB: [false, false, true], answers: [" Yes", " No"]),
        Case(.rte, 4, a: "The cat sat on the mat. question: A cat sat True or False? answer:[MASK]", b: "", shortA: [true, false, true, false, false, false], shortB: [], answers: [" true", " false"]),
        Case(.cb, 0, a: "\"A cat sat\" ?", b: "[MASK], \"The cat sat on the mat.\"", shortA: [false, true, false], shortB: [false, false, false, true, false], answers: [" Yes", " No", " Maybe"]),
        Case(.cb, 1, a: "A cat sat?", b: "[MASK], The cat sat on the mat.", shortA: [true, false], shortB: [false, false, true], answers: [" Yes", " No", " Maybe"]),
        Case(.cb, 2, a: "\"A cat sat\" ?", b: "[MASK]. \"The cat sat on the mat.\"", shortA: [false, true, false], shortB: [false, false, true, false], answers: [" Yes", " No", " Maybe"]),
        Case(.cb, 3, a: "A cat sat?", b: "[MASK]. The cat sat on the mat.", shortA: [true, false], shortB: [false, false, true], answers: [" Yes", " No", " Maybe"]),
        Case(.cb, 4, a: "The cat sat on the mat. question: A cat sat! true, false or neither? answer:[MASK]", b: "", shortA: [true, false, true, false, false, false], shortB: [], answers: [" true", " false", " neither"]),
        Case(.boolq, 0, a: "The sun is a star. Question: is the sun a star? Answer:[MASK].", b: "", shortA: [true, false, true, false, false, false], shortB: [], answers: [" No", " Yes"]),
        Case(.boolq, 1, a: "The sun is a star. Question: is the sun a star? Answer:[MASK].", b: "", shortA: [true, false, true, false, false, false], shortB: [], answers: [" false", " true"]),
        Case(.boolq, 2, a: "The sun is a star. Based on the previous passage, is the sun a star?[MASK].", b: "", shortA: [true, false, true, false, false, false], shortB: [], answers: [" No", " Yes"]),
        Case(.boolq, 3, a: "The sun is a star. Based on the previous passage, is the sun a star?[MASK].", b: "", shortA: [true, false, true, false, false, false], shortB: [], answers: [" false", " true"]),
        Case(.boolq, 4, a: "Based on the following passage is the sun a star?[MASK]. The sun is a star.", b: "", shortA: [false, true, false, false, false, true], shortB: [], answers: [" No", " Yes"]),
        Case(.boolq, 5, a: "Based on the following passage is the sun a star?[MASK]. The sun is a star.", b: "", shortA: [false, true, false, false, false, true], shortB: [], answers: [" false", " true"]),
        Case(.wic, 0, a: "\"I run daily.\" / \"They run fast.\" Similar sense of \"run\"?[MASK].", b: "", shortA: [true, false, false, false], shortB: [], answers: [" No", " Yes"]),
        Case(.wic, 1, a: "I run daily. They run fast. Does run have the same meaning in both sentences?[MASK]", b: "", shortA: [true, true, false, false], shortB: [], answers: [" No", " Yes"]),
        Case(.wic, 2, a: "run . Sense (1) (a) \"I run daily.\" ([MASK]) \"They run fast.\"", b: "", shortA: [false, false, false, true, false, false, false, false, false, false], shortB: [], answers: ["2", "b"]),
        Case(.multirc, 0, a: "Sara lived by the sea.<br. Question: Where did Sara live? Is it By the sea?[MASK].", b: "", shortA: [true, false, false, false, false, false, false, false, false], shortB: [], answers: [" No", " Yes"]),
        Case(.multirc, 1, a: "Sara lived by the sea.<br. Question: Where did Sara live? Is the correct answer \"By the sea\"?[MASK].", b: "", shortA: [true, false, false, false, false, false, false, false, false, false], shortB: [], answers: [" No", " Yes"]),
        Case(.multirc, 2, a: "Sara lived by the sea.<br. Based on the previous passage, Where did Sara live? Is \"By the sea\" a correct answer?[MASK].", b: "", shortA: [true, false, false, false, false, false, false, false, false], shortB: [], answers: [" No", " Yes"]),
        Case(.multirc, 3, a: "Sara lived by the sea.<br Where did Sara live- [[MASK]]By the sea", b: "", shortA: [true, false, false, false, false, false], shortB: [], answers: [" False", " True"]),
        Case(.multirc, 4, a: "Sara lived by the sea.<br. Question: Where did Sara live? By the sea?[MASK].", b: "", shortA: [true, false, false, false, false, false, false, false, false], shortB: [], answers: [" No", " Yes"]),
        Case(.copa, 0, a: "\"he tripped\" or \"he sang\"? The man fell, so[MASK].", b: "", shortA: [false, false, false, false, false, true, false, false, false], shortB: [], answers: [" he tripped", " he sang"]),
        Case(.copa, 1, a: "he tripped or he sang? The man fell, so[MASK].", b: "", shortA: [false, false, false, false, true, false, false, false], shortB: [], answers: [" he tripped", " he sang"]),
        Case(.wsc, 0, a: "Bob thanked Tom because *he* helped. The pronoun '*he*' refers to[MASK].", b: "", shortA: [true, false, false, false], shortB: [], answers: [" Tom", " Bob"]),
        Case(.wsc, 1, a: "Bob thanked Tom because *he* helped. In the previous sentence, the pronoun '*he*' refers to[MASK].", b: "", shortA: [true, false, false, false], shortB: [], answers: [" Tom", " Bob"]),
        Case(.wsc, 2, a: "Bob thanked Tom because *he* helped. Question: In the passage above, what does the pronoun '*he*' refer to? Answer:[MASK].", b: "", shortA: [true, false, false, false, false], shortB: [], answers: [" Tom", " Bob"]),
    ]

    func testEveryPatternIdMatchesTheOriginal() throws {
        func text(_ parts: [PatternPart]) -> String { FilledPattern(a: parts).text }
        func shortenable(_ parts: [PatternPart]) -> [Bool] { parts.map { if case .text(_, true) = $0 { return true }; return false } }
        for c in Self.cases {
            let pvp = try PatternVerbalizer(task: c.task, patternId: c.pattern)
            let ex = Self.examples[c.task]!
            let parts = try pvp.parts(ex)
            let w = "\(c.task) pattern \(c.pattern)"
            XCTAssertEqual(text(parts.a), c.a, w)
            XCTAssertEqual(text(parts.b), c.b, w)
            XCTAssertEqual(shortenable(parts.a), c.shortA, w)
            XCTAssertEqual(shortenable(parts.b), c.shortB, w)
            XCTAssertEqual(try pvp.answers(ex), c.answers, w)
        }
        // Every pattern id the original offers for these tasks is covered (ReCoRD has only pattern 0, in the fixtures).
        for task in SuperGLUETask.allCases where task != .record {
            XCTAssertEqual(Self.cases.filter { $0.task == task }.map(\.pattern), task.patternIds, "\(task)")
        }
    }
}
