import Foundation
import XCTest
import GLMSupport

final class JSONTextTests: XCTestCase {
    func testQuoteEscapes() {
        XCTAssertEqual(JSONText.quote("a\"\\\n\r\t\u{1}\u{7F}é"), #""a\"\\\n\r\t\u0001\u007fé""#)
    }

    func testQuoteParseRoundTrip() throws {
        let samples = ["", "plain", "quote \" backslash \\ slash /", "\u{0}\u{1F}\u{7F} controls", "汉字 😀 é", "\r\n\t"]
        for s in samples {
            let quoted = JSONText.quote(s)
            XCTAssertEqual(try JSONText.parseString(Array(quoted.utf8)), s)
            // Valid JSON for Foundation too.
            let parsed = try JSONSerialization.jsonObject(with: Data(quoted.utf8), options: [.fragmentsAllowed]) as? String
            XCTAssertEqual(parsed, s)
        }
    }

    func testParsers() throws {
        XCTAssertEqual(try JSONText.parseIntArray(Array(" [1, -2 ,3] ".utf8)), [1, -2, 3])
        XCTAssertEqual(try JSONText.parseString(Array(#""a\ud800b""#.utf8)), "a\u{FFFD}b")
        let obj = try JSONText.parseStringIntObject(Array(#"{"a": 1, "b\u00e9": 2}"#.utf8))
        XCTAssertEqual(obj.map { String(decoding: $0.key, as: UTF8.self) }, ["a", "bé"])
        XCTAssertEqual(obj.map(\.value), [1, 2])
        XCTAssertThrowsError(try JSONText.parseIntArray(Array("[1.5]".utf8)))
    }

    func testNestingGuard() {
        let deep = Array((String(repeating: "[", count: 40) + String(repeating: "]", count: 40)).utf8)
        let quoted = Array(#"{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#.utf8)
        deep.withUnsafeBytes { XCTAssertTrue(JSONText.nestsDeeper(than: 32, $0)) }
        quoted.withUnsafeBytes { XCTAssertFalse(JSONText.nestsDeeper(than: 32, $0)) }
    }
}
