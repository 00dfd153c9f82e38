import Foundation
import XCTest
import GLMSupport

final class FileTests: XCTestCase {
    private func scratch() throws -> String {
        let p = NSTemporaryDirectory() + "/glm-support-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: p) }
        return p
    }

    func testAtomicWriteLeavesNoTemporaryFile() throws {
        let dir = try scratch()
        let path = dir + "/data.bin"
        let w = try AtomicFileWriter(path: path)
        try w.write(Array("hello ".utf8))
        try w.write(littleEndian: [UInt16(0x4241)])
        try w.patch(Array("J".utf8), at: 0)
        XCTAssertEqual(w.offset, 8)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "visible before commit")
        try w.commit()
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "Jello AB")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["data.bin"])
    }

    func testAbandonedWriterRemovesItsTemporaryFile() throws {
        let dir = try scratch()
        try AtomicFileWriter.write(Array("old".utf8), to: dir + "/f")
        do {
            let w = try AtomicFileWriter(path: dir + "/f")
            try w.write(Array("new".utf8))
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/f", encoding: .utf8), "old")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f"])
    }

    func testMakeDirectoriesAndErrors() throws {
        let dir = try scratch()
        try AtomicFileWriter.makeDirectories(dir + "/a/b/c")
        var isDir: ObjCBool = false
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/a/b/c", isDirectory: &isDir) && isDir.boolValue)
        XCTAssertThrowsError(try AtomicFileWriter(path: dir + "/missing/x")) { e in
            XCTAssertEqual((e as? FileSystemError)?.operation, .createTemporary)
        }
        XCTAssertThrowsError(try MappedFile(path: dir + "/a")) { e in
            XCTAssertEqual((e as? FileSystemError)?.operation, .notRegularFile)
        }
    }

    func testMappedFileReadsWhatWasWritten() throws {
        let dir = try scratch()
        let bytes = [UInt8]((0..<5000).map { UInt8(truncatingIfNeeded: $0) })
        try AtomicFileWriter.write(bytes, to: dir + "/m")
        let m = try MappedFile(path: dir + "/m")
        XCTAssertEqual(Array(m.bytes), bytes)
        XCTAssertTrue(m.contains(offset: 4000, count: 1000))
        XCTAssertFalse(m.contains(offset: 4001, count: 1000))
        XCTAssertFalse(m.contains(offset: Int.max, count: 2))
        XCTAssertEqual(MappedFile(bytes: [], name: "empty").count, 0)
    }
}
