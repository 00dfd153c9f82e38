import XCTest
import GLMSupport

final class TextLinesTests: XCTestCase {
    private func lines(_ s: String, _ keep: Bool) -> [String] {
        TextLines.split(s, keepingFinalEmptyLine: keep).map(String.init)
    }

    func testUniversalNewlines() {
        XCTAssertEqual(lines("a\nb\r\nc\rd", false), ["a", "b", "c", "d"])
        XCTAssertEqual(lines("a\r\n\r\nb", false), ["a", "", "b"])
        XCTAssertEqual(lines("a\n\r", false), ["a", ""])   // \n then a lone \r: two terminators
    }

    func testFinalNewline() {
        XCTAssertEqual(lines("a\nb\n", false), ["a", "b"])
        XCTAssertEqual(lines("a\nb\n", true), ["a", "b", ""])
        XCTAssertEqual(lines("a\nb", false), ["a", "b"])
        XCTAssertEqual(lines("a\nb", true), ["a", "b"])
        XCTAssertEqual(lines("a\r\n", true), ["a", ""])
    }

    func testEmptyLinesAndText() {
        XCTAssertEqual(lines("", false), [])
        XCTAssertEqual(lines("", true), [""])
        XCTAssertEqual(lines("\n\n", false), ["", ""])
        XCTAssertEqual(lines("\n\n", true), ["", "", ""])
    }
}
