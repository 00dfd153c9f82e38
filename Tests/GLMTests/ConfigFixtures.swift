import Foundation
import XCTest
import GLMTestSupport
import GLMCheckpoint
@testable import GLM

/// Paths of the shared reference fixtures, read in place (never copied into the repository).
enum GLMFixtures {
    static let root: String = ReferenceFixtures.rootPath

    /// Fails (not skips) when the fixture is missing.
    static func path(_ relative: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        try ReferenceFixtures.path(relative, file: file, line: line)
    }

    static func scratch(_ test: XCTestCase) throws -> String {
        try ReferenceFixtures.scratchFolder(for: test, prefix: "glm-load")
    }
}

func assertGLMError<T>(_ kind: CheckpointError.Kind, mentions fragments: [String], file: StaticString = #filePath,
                       line: UInt = #line, _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected a \(kind) error, got success", file: file, line: line)
    } catch let e as CheckpointError {
        XCTAssertEqual(e.kind, kind, "wrong kind for: \(e)", file: file, line: line)
        for f in fragments { XCTAssertTrue(e.description.contains(f), "error '\(e)' does not mention '\(f)'", file: file, line: line) }
    } catch {
        XCTFail("expected CheckpointError, got \(error)", file: file, line: line)
    }
}
