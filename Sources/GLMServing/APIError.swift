import Foundation

/// An OpenAI-style error: HTTP status plus `{"error": {"message", "type", "param", "code"}}`. Every bad
/// input the server meets becomes one of these, naming the field at fault in `param`.
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Seconds a client should wait before retrying (429).
    public var retryAfter: Int?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status; self.message = message; self.type = type; self.param = param; self.code = code
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status) \(type): \(message)" }

    /// 400: a field is missing, of the wrong type or out of range.
    public static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param, code: code)
    }
    public static let unauthorized = APIError(status: 401, message: "missing or wrong API key: send the header 'Authorization: Bearer KEY'",
                                              type: "authentication_error", code: "invalid_api_key")
    public static func notFound(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: 404, message: message, type: "invalid_request_error", param: param, code: code)
    }
    public static func tooLarge(limit: Int) -> APIError {
        APIError(status: 413, message: "the request body is larger than the limit of \(limit) bytes", type: "invalid_request_error",
                 code: "request_too_large")
    }
    public static func queueFull(depth: Int, retryAfter: Int = 1) -> APIError {
        APIError(status: 429, message: "the server is busy: \(depth) requests are already waiting; retry later",
                 type: "rate_limit_error", code: "queue_full", retryAfter: retryAfter)
    }
    public static func timeout(seconds: Double) -> APIError {
        APIError(status: 504, message: "the request ran past its deadline of \(seconds) s", type: "timeout_error", code: "deadline_exceeded")
    }
    public static let shuttingDown = APIError(status: 503, message: "the server is shutting down", type: "server_error", code: "shutting_down")
    public static func server(_ message: String) -> APIError { APIError(status: 500, message: message, type: "server_error") }

    /// The JSON body.
    public var json: Data {
        let inner: [String: Any] = ["message": message, "type": type, "param": param ?? NSNull(), "code": code ?? NSNull()]
        return JSONBody.encode(["error": inner])
    }
}

/// JSON bodies written with JSONSerialization (sorted keys, so responses are stable to read and diff).
public enum JSONBody {
    public static func encode(_ object: Any) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }
}
