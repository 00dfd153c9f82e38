import Foundation
import XCTest

/// `glm serve` as a real process: SIGTERM while a stream is running lets that stream finish (all its
/// tokens, then `[DONE]`), and the process exits 0 within a bounded time.
final class ServerProcessTests: XCTestCase {
    /// The `glm` executable next to the test bundle (`swift test` builds every product).
    func glmTool() throws -> String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("glm").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw NSError(domain: "ServerProcessTests", code: 1, userInfo: [NSLocalizedDescriptionKey: "no glm executable next to \(dir.path)"])
    }

    func testSIGTERMDrainsTheRunningStreamThenExits() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try glmTool())
        process.arguments = ["serve", "--port", "0", "--threads", "1", "--weights", "fp32"]
        var env = ProcessInfo.processInfo.environment
        env["LOG_LEVEL"] = "critical"
        process.environment = env
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }

        // The start line names the bound port: "glm serve: … on http://127.0.0.1:PORT (…".
        var log = ""
        let deadline = Date().addingTimeInterval(60)
        var port: Int?
        while port == nil && Date() < deadline && process.isRunning {
            let chunk = stderr.fileHandleForReading.availableData
            if chunk.isEmpty { usleep(20_000); continue }
            log += String(decoding: chunk, as: UTF8.self)
            if let r = log.range(of: "http://127.0.0.1:") {
                port = Int(log[r.upperBound...].prefix { $0.isNumber })
            }
        }
        let bound = try XCTUnwrap(port, "glm serve did not report its port: \(log)")

        let fd = try RawClient.connected(port: bound)
        defer { close(fd) }
        let body = #"{"prompt": "GLM is a general language model", "max_tokens": 60, "ignore_eos": true, "stream": true}"#
        let request = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var signalled = false
        var tv = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            received.append(contentsOf: buffer[0..<n])
            // SIGTERM once the first token chunk arrived: the stream is running.
            if !signalled, String(decoding: received, as: UTF8.self).contains("data: {") {
                kill(process.processIdentifier, SIGTERM)
                signalled = true
            }
        }
        XCTAssertTrue(signalled, "no token chunk arrived before the connection ended")
        let text = String(decoding: received, as: UTF8.self)
        XCTAssertTrue(text.contains("data: [DONE]"), "the running stream was cut by SIGTERM: \(text.suffix(300))")
        XCTAssertTrue(text.contains("\"finish_reason\":\"length\"") || text.contains("\"finish_reason\": \"length\""),
                      "the stream did not run to max_tokens: \(text.suffix(300))")

        let exitDeadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < exitDeadline { usleep(20_000) }
        XCTAssertFalse(process.isRunning, "glm serve still running 20 s after SIGTERM")
        if !process.isRunning { XCTAssertEqual(process.terminationStatus, 0, log) }
    }
}
