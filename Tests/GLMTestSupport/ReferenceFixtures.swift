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

    /// A fresh scratch folder `<tmp>/<prefix>-<uuid>`, removed when `test` tears down.
    public static func scratchFolder(for test: XCTestCase, prefix: String) throws -> String {
        let p = NSTemporaryDirectory() + "/\(prefix)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: p) }
        return p
    }
}
