import XCTest
@testable import GLMTasks

/// The samples of every item in every setting of both fixture files, id for id (text, 2-D positions,
/// sep, target, logit mask, label), from the fixture's ids and from our own tokenization of the text.
final class MultipleChoiceEncoderTests: XCTestCase {
    func check(_ s: MultipleChoiceSample, _ expected: [String: Any], _ what: String) {
        XCTAssertEqual(s.ids, ints2(expected["text"]), "\(what): text")
        XCTAssertEqual(s.positions, ints3(expected["position"]), "\(what): position")
        XCTAssertEqual(s.seps, ints(expected["mask"]), "\(what): mask (sep)")
        XCTAssertEqual(s.targets, ints2(expected["target"]), "\(what): target")
        XCTAssertEqual(s.logitMasks, ints2(expected["logit_mask"]), "\(what): logit_mask")
        XCTAssertEqual(s.label, (expected["label"] as? NSNumber)?.intValue, "\(what): label")
        XCTAssertEqual(s.lengths, ints(expected["_real_length"]), "\(what): real length")
    }

    func testSamplesFromFixtureIdsMatchEverySetting() throws {
        var checked = 0
        for setting in try Fixtures.settings() {
            let tokenizer = try Fixtures.scorer(setting.model).tokenizer
            let encoder = try MultipleChoiceEncoder(tokenizer: tokenizer, seqLength: setting.seqLength, unidirectional: setting.unidirectional)
            for (i, item) in setting.items.enumerated() {
                let sample = item["sample"] as! [String: Any]
                let s = try encoder.encode(inputIds: ints(item["inputs_ids_EncodeAsIds"]), choiceIds: ints2(item["choices_ids_EncodeAsIds"]),
                                           label: (sample["label"] as! NSNumber).intValue)
                check(s, sample, "\(setting.title) item \(i)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, 5 * 4 + 3 * 6)
    }

    func testSamplesFromTextMatchEverySetting() throws {
        for setting in try Fixtures.settings() {
            let tokenizer = try Fixtures.scorer(setting.model).tokenizer
            let encoder = try MultipleChoiceEncoder(tokenizer: tokenizer, seqLength: setting.seqLength, unidirectional: setting.unidirectional)
            for (i, (line, item)) in zip(try setting.lines(), setting.items).enumerated() {
                XCTAssertEqual(tokenizer.encode(line.inputs), ints(item["inputs_ids_EncodeAsIds"]), "\(setting.title) item \(i): inputs")
                XCTAssertEqual(line.choices.map(tokenizer.encode), ints2(item["choices_ids_EncodeAsIds"]), "\(setting.title) item \(i): choices")
                check(try encoder.encode(line), item["sample"] as! [String: Any], "\(setting.title) item \(i) (from text)")
            }
        }
    }

    /// Truncation drops tokens at the front and keeps the appended [MASK] next to the choices.
    func testLeftTruncationKeepsTheEnd() throws {
        let tokenizer = try Fixtures.scorer("glm-tiny-bert").tokenizer
        let encoder = try MultipleChoiceEncoder(tokenizer: tokenizer, seqLength: 12)
        let mask = tokenizer.commandToken(.MASK)!
        let s = try encoder.encode(inputIds: Array(1000..<1010), choiceIds: [[7, 8, 9], [5]])
        // text_length = 12 - 3 - 2 = 7: the last 6 input ids, then [MASK].
        XCTAssertEqual(Array(s.ids[0].prefix(8)), [tokenizer.commandToken(.ENC)!] + Array(1004..<1010) + [mask])
        XCTAssertEqual(s.lengths, [12, 10])
        XCTAssertEqual(s.positions[0][0], Array(0..<9) + [7, 7, 7])
        XCTAssertEqual(s.positions[0][1], Array(repeating: 0, count: 9) + [1, 2, 3])
    }

    func testBadInputsAreClearErrors() throws {
        let bert = try Fixtures.scorer("glm-tiny-bert").tokenizer
        XCTAssertThrowsError(try MultipleChoiceEncoder(tokenizer: bert, unidirectional: true)) {
            XCTAssertTrue("\($0)".contains("gMASK"), "\($0)")
        }
        let encoder = try MultipleChoiceEncoder(tokenizer: bert, seqLength: 8)
        XCTAssertThrowsError(try encoder.encode(inputIds: [1000], choiceIds: [[5], []])) { XCTAssertTrue("\($0)".contains("choice 1")) }
        XCTAssertThrowsError(try encoder.encode(inputIds: [1000], choiceIds: [Array(1...6)])) { XCTAssertTrue("\($0)".contains("no room")) }
        let mask = bert.commandToken(.MASK)!
        XCTAssertThrowsError(try encoder.encode(inputIds: [mask] + Array(1000..<1010), choiceIds: [[5]])) {
            XCTAssertTrue("\($0)".contains("[MASK] was cut off"), "\($0)")
        }
    }
}
