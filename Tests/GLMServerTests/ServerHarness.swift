import AsyncHTTPClient
import Foundation
import GLMGeneration
import GLMServer
import GLMServing
import GLMTestSupport
import XCTest

/// A real `glm serve` (GLMServerApp on a fixture model) on a free loopback port, and an HTTP client.
final class ServerHarness: @unchecked Sendable {
    let service: GLMService
    let port: Int
    let task: Task<Void, Error>
    let client = HTTPClient(eventLoopGroupProvider: .singleton)

    var base: String { "http://127.0.0.1:\(port)" }

    /// Generators are loaded once per model and shared by the tests (each server gets its own scheduler).
    nonisolated(unsafe) private static var generators: [String: GLMGenerator] = [:]
    private static let lock = NSLock()

    static func generator(_ model: String) throws -> GLMGenerator {
        lock.lock(); defer { lock.unlock() }
        if let g = generators[model] { return g }
        let g = try GLMGenerator.load(try ReferenceFixtures.require("models/\(model)"))
        generators[model] = g
        return g
    }

    /// The built-in model (6 layers, hidden 192): slow enough per token for the queue and disconnect tests.
    static let builtIn = "built-in"

    static func generator(named model: String) throws -> GLMGenerator {
        if model == builtIn {
            lock.lock(); defer { lock.unlock() }
            if let g = generators[model] { return g }
            let g = try GLMGenerator.loadDefault()
            generators[model] = g
            return g
        }
        return try generator(model)
    }

    /// Runs `body` against a fresh server and always stops it (and its client) afterwards.
    static func with(model: String = "glm-tiny-bert-sharp", maxBatch: Int = 16, maxQueue: Int = 256, apiKey: String? = nil,
                     limits: ServingLimits = ServingLimits(), idleTimeout: Double = 30,
                     _ body: (ServerHarness) async throws -> Void) async throws {
        let server = try await start(model: model, maxBatch: maxBatch, maxQueue: maxQueue, apiKey: apiKey, limits: limits,
                                     idleTimeout: idleTimeout)
        do { try await body(server) } catch { try await server.stop(); throw error }
        try await server.stop()
    }

    static func start(model: String = "glm-tiny-bert-sharp", maxBatch: Int = 16, maxQueue: Int = 256, apiKey: String? = nil,
                      limits: ServingLimits = ServingLimits(), idleTimeout: Double = 30) async throws -> ServerHarness {
        // Hummingbird reads LOG_LEVEL: keep its shutdown chatter ("Already closed" on cancellation) out of the test log.
        setenv("LOG_LEVEL", "critical", 0)
        let service = try GLMService(generator: try generator(named: model), modelID: model, maxBatch: maxBatch, maxQueue: maxQueue, limits: limits)
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let task = Task {
            try await GLMServerApp.run(service: service, options: GLMServerOptions(host: "127.0.0.1", port: 0, apiKey: apiKey,
                                                                                     idleTimeoutSeconds: idleTimeout),
                                       handleSignals: false) { continuation.yield($0); continuation.finish() }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ReferenceFixtures.Missing(path: "server did not start") }
        return ServerHarness(service: service, port: port, task: task)
    }

    private init(service: GLMService, port: Int, task: Task<Void, Error>) {
        self.service = service; self.port = port; self.task = task
    }

    func stop() async throws {
        try await client.shutdown()
        task.cancel()
        _ = await task.result
    }

    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var text: String { String(decoding: body, as: UTF8.self) }
        var error: [String: Any] { json["error"] as? [String: Any] ?? [:] }
    }

    func request(_ path: String, method: String = "POST", body: Data? = nil, headers: [String: String] = [:]) async throws -> Reply {
        var r = HTTPClientRequest(url: base + path)
        r.method = method == "GET" ? .GET : .POST
        for (k, v) in headers { r.headers.add(name: k, value: v) }
        if let body { r.body = .bytes(body) }
        let response = try await client.execute(r, timeout: .seconds(60))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        var h: [String: String] = [:]
        for (name, value) in response.headers { h[name.lowercased()] = value }
        return Reply(status: Int(response.status.code), headers: h, body: Data(buffer.readableBytesView))
    }

    func post(_ path: String, _ object: [String: Any], headers: [String: String] = [:]) async throws -> Reply {
        try await request(path, body: try JSONSerialization.data(withJSONObject: object), headers: headers)
    }

    /// The `data:` payloads of an SSE body.
    static func events(_ body: String) -> [String] {
        body.components(separatedBy: "\n\n").compactMap { block in
            block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
        }
    }
}

/// One HTTP/1.1 request over a raw socket that the test closes after reading the first bytes (a client
/// that goes away mid-stream).
enum RawClient {
    /// Connects, sends `bytes` (e.g. half a request) and then nothing; returns the seconds until the server
    /// closed the connection (recv returned 0 or an error), or nil if it was still open after `limit` seconds.
    static func stallThenTimeClose(port: Int, bytes: String, limit: Double) throws -> Double? {
        let fd = try connected(port: port)
        defer { close(fd) }
        _ = bytes.withCString { send(fd, $0, strlen($0), 0) }
        var tv = timeval(tv_sec: Int(limit.rounded(.up)), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let start = Date()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(start) < limit {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return Date().timeIntervalSince(start) }
            if n < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? nil : Date().timeIntervalSince(start) }
        }
        return nil
    }

    static func connected(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { close(fd); throw POSIXError(.ECONNREFUSED) }
        return fd
    }

    static func postThenHangUp(port: Int, path: String, json: String, readBytes: Int) throws {
        let fd = try connected(port: port)
        defer { close(fd) }
        let request = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(json.utf8.count)\r\n\r\n\(json)"
        _ = request.withCString { send(fd, $0, strlen($0), 0) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        var got = 0
        while got < readBytes {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            got += n
        }
    }
}
