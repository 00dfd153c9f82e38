import XCTest
@testable import GLMTasks

final class MultipleChoiceDataTests: XCTestCase {
    func testFieldsAndDefaults() throws {
        let item = try MultipleChoiceData.parse(#"{"inputs_pretokenized": "Q?", "choices_pretokenized": ["a", "b"]}"#)
        XCTAssertEqual(item, MultipleChoiceItem(inputs: "Q?", choices: ["a", "b"], label: 0))
        XCTAssertEqual(try MultipleChoiceData.parse(#"{"inputs_pretokenized": "Q", "choices_pretokenized": ["a", "b"], "label": "1"}"#).label, 1)
        XCTAssertEqual(try MultipleChoiceData.parse(#"{"inputs_pretokenized": "Q", "choices_pretokenized": ["a", "b"], "label": 1}"#).label, 1)
    }

    func testBadLinesNameFileAndLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mc-bad-\(getpid()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let good = #"{"inputs_pretokenized": "Q", "choices_pretokenized": ["a"]}"#
        let cases: [(String, String)] = [
            (#"{"inputs_pretokenized": "Q", "choices_pretokenized": ["a""#, "malformed JSON"),
            (#"{"choices_pretokenized": ["a"]}"#, "missing field \"inputs_pretokenized\""),
            (#"{"inputs_pretokenized": "Q"}"#, "missing field \"choices_pretokenized\""),
            (#"{"inputs_pretokenized": "Q", "choices_pretokenized": []}"#, "is empty"),
            (#"{"inputs_pretokenized": "Q", "choices_pretokenized": ["a"], "label": 3}"#, "label 3"),
            (#"[1, 2]"#, "expected a JSON object"),
        ]
        for (bad, message) in cases {
            try [good, "", bad].joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try MultipleChoiceData.read(path)) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(path):3: "), "\(error)")
                XCTAssertTrue("\(error)".contains(message), "\(error)")
            }
        }
        XCTAssertThrowsError(try MultipleChoiceData.read(path + ".missing")) { XCTAssertTrue("\($0)".contains("cannot read")) }
    }

    func testFixtureInputFilesRead() throws {
        XCTAssertEqual(try MultipleChoiceData.read(try Fixtures.require("tasks/multichoice/multichoice-en.jsonl")).count, 5)
        let zh = try MultipleChoiceData.read(try Fixtures.require("tasks/multichoice/multichoice-zh.jsonl"))
        XCTAssertEqual(zh.map(\.label), [0, 0, 1])
    }
}
