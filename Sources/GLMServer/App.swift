import Foundation
import GLMServing
import Hummingbird

/// The HTTP face of `glm serve` on Hummingbird 2: routes to `GLMService`, bearer-key auth, body limits,
/// OpenAI-style errors for everything (unknown routes included), Server-Sent Events for `stream: true`,
/// metrics per request. Loopback by default; `run` drains on SIGTERM/SIGINT.
public struct GLMServerOptions: Sendable {
    public var host = "127.0.0.1"
    /// 0 picks a free port (`onRunning` reports it).
    public var port = 8080
    /// Every request needs `Authorization: Bearer KEY` when set.
    public var apiKey: String?
    /// A connection that sends nothing for this long — an idle keep-alive, or a slow or abandoned client
    /// in the middle of its request — is closed. A request being answered (a long generation, a stream)
    /// is never cut by it: Hummingbird does not count the time after a request was fully read.
    public var idleTimeoutSeconds: Double = 30

    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil, idleTimeoutSeconds: Double = 30) {
        self.host = host; self.port = port; self.apiKey = apiKey; self.idleTimeoutSeconds = idleTimeoutSeconds
    }
}

public enum GLMServerApp {
    /// The application; `onRunning` gets the bound port once the server listens.
    public static func build(service: GLMService, options: GLMServerOptions,
                             onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: APIMiddleware(service: service, apiKey: options.apiKey))
        addRoutes(router, service: service)
        let idleNanoseconds = Int64(max(options.idleTimeoutSeconds, 0.001) * 1e9)
        return Application(router: router,
                           server: .http1(configuration: .init(idleTimeout: .nanoseconds(idleNanoseconds))),
                           configuration: .init(address: .hostname(options.host, port: options.port), serverName: "glm-serve"),
                           onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? options.port) })
    }

    /// Serves until SIGTERM/SIGINT (or the task is cancelled): then stops accepting, lets the running
    /// requests finish, and drains the scheduler.
    public static func run(service: GLMService, options: GLMServerOptions, handleSignals: Bool = true,
                           onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        service.start()
        let app = build(service: service, options: options, onRunning: onRunning)
        do {
            try await app.runService(gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [])
        } catch {
            await service.drain()
            throw error
        }
        await service.drain()
    }

    static func addRoutes(_ router: Router<BasicRequestContext>, service: GLMService) {
        router.get("/health") { _, _ in json(service.health()) }
        router.get("/v1/models") { _, _ in json(service.models()) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: service.metrics.text())))
        }
        router.post("/v1/tokenize") { request, _ in json(try service.tokenize(body: try await body(request, service))) }
        router.post("/v1/glm/fill") { request, _ in json(try await service.fill(body: try await body(request, service))) }
        router.post("/v1/glm/choices") { request, _ in json(try await service.choices(body: try await body(request, service))) }
        router.post("/v1/completions") { request, _ in
            let handle = try service.startCompletion(body: try await body(request, service))
            guard handle.isStream else { return json(try await handle.response()) }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                            body: ResponseBody { writer in
                do {
                    try await handle.stream { chunk in try await writer.write(sse(chunk)) }
                } catch let e as APIError {
                    // Too late for a status code: the error goes out as an event, then [DONE].
                    try await writer.write(sse(e.json))
                }
                try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                try await writer.finish(nil)
            })
        }
    }

    static func sse(_ data: Data) -> ByteBuffer {
        var b = ByteBuffer(string: "data: ")
        b.writeBytes(data)
        b.writeString("\n\n")
        return b
    }

    static func json(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The request body, at most `limits.maxBodyBytes` (413 beyond).
    static func body(_ request: Request, _ service: GLMService) async throws -> Data {
        let limit = service.limits.maxBodyBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { throw APIError.tooLarge(limit: limit) }
        var request = request
        do {
            let buffer = try await request.collectBody(upTo: limit)
            return Data(buffer.readableBytesView)
        } catch {
            if error is APIError { throw error }
            if "\(type(of: error))".contains("TooManyBytes") { throw APIError.tooLarge(limit: limit) }
            throw APIError.invalid("could not read the request body: \(error)")
        }
    }
}

/// Auth, OpenAI-style errors for every failure, and request metrics.
struct APIMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let service: GLMService
    let apiKey: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = Date()
        let endpoint = Self.endpoint(request.uri.path)
        let response: Response
        do {
            if let apiKey, request.headers[.authorization] != "Bearer \(apiKey)" { throw APIError.unauthorized }
            response = try await next(request, context)
        } catch let e as APIError {
            response = Self.errorResponse(e)
        } catch let e as any HTTPResponseError {
            let message = e.status == .notFound ? "no route \(request.method) \(request.uri.path)" : "\(e.status.reasonPhrase)"
            response = Self.errorResponse(APIError(status: e.status.code, message: message, type: "invalid_request_error",
                                                   code: e.status == .notFound ? "unknown_url" : nil))
        } catch {
            response = Self.errorResponse(.server("\(error)"))
        }
        service.metrics.recordRequest(endpoint: endpoint, status: response.status.code, seconds: Date().timeIntervalSince(started))
        return response
    }

    /// Known paths by name; everything else as "other" (keeps the metric's label set bounded).
    static func endpoint(_ path: String) -> String {
        ["/v1/completions", "/v1/glm/fill", "/v1/glm/choices", "/v1/tokenize", "/v1/models", "/health", "/metrics"].contains(path) ? path : "other"
    }

    static func errorResponse(_ e: APIError) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let r = e.retryAfter { headers[.retryAfter] = String(r) }
        return Response(status: HTTPResponse.Status(code: e.status), headers: headers,
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: e.json)))
    }
}
