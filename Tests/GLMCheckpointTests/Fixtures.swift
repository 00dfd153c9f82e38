import Foundation
import XCTest
import GLMTestSupport
@testable import GLMCheckpoint

/// Locates the shared reference fixtures (read in place, never copied) and scratch folders.
enum Fixtures {
    static let root: String = ReferenceFixtures.rootPath

    /// Path of a fixture file; fails the test (not skips) when the fixture folder is missing.
    static func path(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try ReferenceFixtures.path(relative, file: file, line: line)
    }

    static var tinyBert: String { root + "/models/glm-tiny-bert" }

    /// A fresh scratch folder under the system temp dir, removed by the caller's `addTeardownBlock`.
    static func scratch(_ test: XCTestCase) throws -> String {
        try ReferenceFixtures.scratchFolder(for: test, prefix: "glm-ckpt")
    }
}

/// Asserts that `body` throws a `CheckpointError` of `kind` whose message mentions all `fragments`.
func assertCheckpointError<T>(_ kind: CheckpointError.Kind, mentions fragments: [String], file: StaticString = #filePath,
                              line: UInt = #line, _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected a \(kind) error, got success", file: file, line: line)
    } catch let e as CheckpointError {
        XCTAssertEqual(e.kind, kind, "wrong kind for: \(e)", file: file, line: line)
        for f in fragments {
            XCTAssertTrue(e.description.contains(f), "error '\(e)' does not mention '\(f)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected CheckpointError, got \(error)", file: file, line: line)
    }
}
