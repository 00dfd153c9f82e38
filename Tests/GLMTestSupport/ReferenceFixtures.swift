import Foundation
import XCTest

/// Where the shared reference fixtures live: <package root>/../shared/fixtures/glm-reference, read in
/// place (never copied into the repository). WHY a target: every test target used to compute this path
/// itself; each keeps its own helpers (and failure messages) on top of this one locator.
public enum ReferenceFixtures {
    /// The fixtures folder, computed from this file's path (<package>/Tests/GLMTestSupport/…).
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/fixtures/glm-reference")

    /// `root` as a normalised path string.
    public static let rootPath: String = root.standardizedFileURL.path

    /// A reference fixture that is not there (the tests fail on it, never skip).
    public struct Missing: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "reference fixture missing: \(path) (expected ../shared/fixtures beside the package)" }
        public init(path: String) { self.path = path }
    }

    /// The path of a fixture; throws `Missing` when it is absent: parity that was not checked must not look green.
    public static func require(_ relative: String) throws -> String {
        let p = root.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: p) else { throw Missing(path: p) }
        return p
    }

    /// A JSON-object fixture file.
    public static func json(_ relative: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: try require(relative)))
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw Missing(path: relative + " (not a JSON object)") }
        return obj
    }

    /// `path` of a fixture; records a test failure (not a skip) and throws `Missing` when it is absent.
    public static func path(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let p = rootPath + "/" + relative
        guard FileManager.default.fileExists(atPath: p) else {
            XCTFail("fixture missing: \(p) — the tests need ../shared/fixtures/glm-reference beside the package", file: file, line: line)
            throw Missing(path: p)
        }
        return p
    }

    /// A fresh scratch folder `<tmp>/<prefix>-<uuid>`, removed when `test` tears down.
    public static func scratchFolder(for test: XCTestCase, prefix: String) throws -> String {
        let p = NSTemporaryDirectory() + "/\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: p) }
        return p
    }
}
