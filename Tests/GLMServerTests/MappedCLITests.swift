import Foundation
import GLMTestSupport
import XCTest

/// The command line end to end: `glm convert --dtype int8` of a fixture model, then `glm generate` on it
/// memory-mapped (`--mmap always`) and through the float32 loader (`--mmap never`, int8 decoding weights
/// packed from the dequantised values): the same text (the same int8 bytes and kernel), and a clear error
/// for decoding weights the mapped file does not hold.
final class MappedCLITests: XCTestCase {
    func glmTool() throws -> String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("glm").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw NSError(domain: "MappedCLITests", code: 1, userInfo: [NSLocalizedDescriptionKey: "no glm executable next to \(dir.path)"])
    }

    /// Runs glm with `arguments`: (exit status, stdout, stderr).
    func glm(_ arguments: [String]) throws -> (Int32, String, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try glmTool())
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    func testConvertInt8ThenGenerateMappedEqualsFloatPath() throws {
        let model = try ReferenceFixtures.path("models/glm-tiny-bert-trained")
        let scratch = try ReferenceFixtures.scratchFolder(for: self, prefix: "mapped-cli")
        let int8 = scratch + "/int8"
        let (rc, _, convertLog) = try glm(["convert", model, int8, "--dtype", "int8"])
        XCTAssertEqual(rc, 0, convertLog)
        let prompt = "In the beginning God created the [MASK]."
        let common = ["generate", "--model", int8, "--threads", "1", "--max-length", "12", prompt]
        let (rcMapped, mapped, mappedLog) = try glm(common + ["--mmap", "always", "--timing"])
        XCTAssertEqual(rcMapped, 0, mappedLog)
        XCTAssertTrue(mappedLog.contains("int8 weights memory-mapped"), mappedLog)
        XCTAssertTrue(mappedLog.contains("timing: load"), mappedLog)
        let (rcFloat, float, floatLog) = try glm(common + ["--mmap", "never", "--weights", "int8"])
        XCTAssertEqual(rcFloat, 0, floatLog)
        XCTAssertFalse(floatLog.contains("memory-mapped"), floatLog)
        XCTAssertFalse(mapped.isEmpty)
        XCTAssertEqual(mapped, float)

        let (rcWrong, _, wrongLog) = try glm(common + ["--mmap", "always", "--weights", "fp32"])
        XCTAssertNotEqual(rcWrong, 0)
        XCTAssertTrue(wrongLog.contains("conversion to int8") && wrongLog.contains("--weights int8"), wrongLog)
    }
}
