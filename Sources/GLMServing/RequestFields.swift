import Foundation

/// A request body's JSON object read field by field: each accessor checks the type and range and throws
/// an `APIError` naming the field; `finish` rejects fields nobody asked for (typos must not pass silently).
public struct RequestFields {
    private let object: [String: Any]
    private var read: Set<String> = []

    /// Parses `body` as one JSON object.
    public init(body: Data) throws {
        guard !body.isEmpty else { throw APIError.invalid("the request body is empty: send a JSON object") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) } catch {
            throw APIError.invalid("the request body is not valid JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error.localizedDescription)")
        }
        guard let dict = parsed as? [String: Any] else { throw APIError.invalid("the request body must be a JSON object") }
        object = dict
    }

    private mutating func value(_ name: String) -> Any? {
        read.insert(name)
        guard let v = object[name], !(v is NSNull) else { return nil }
        return v
    }

    private static func isBool(_ v: Any) -> Bool {
        // JSON true/false arrive as NSNumber with the `char` type (numbers are `i`/`q`/`d`).
        guard let n = v as? NSNumber else { return false }
        return String(cString: n.objCType) == "c"
    }

    public mutating func string(_ name: String) throws -> String? {
        guard let v = value(name) else { return nil }
        guard let s = v as? String else { throw APIError.invalid("'\(name)' must be a string", param: name) }
        return s
    }

    /// A string or a list of strings (`prompt`, `stop`).
    public mutating func strings(_ name: String) throws -> [String]? {
        guard let v = value(name) else { return nil }
        if let s = v as? String { return [s] }
        guard let list = v as? [Any], list.allSatisfy({ $0 is String }) else {
            throw APIError.invalid("'\(name)' must be a string or a list of strings", param: name)
        }
        return list as? [String]
    }

    public mutating func list(_ name: String) throws -> [String]? {
        guard let v = value(name) else { return nil }
        guard let list = v as? [Any], list.allSatisfy({ $0 is String }) else {
            throw APIError.invalid("'\(name)' must be a list of strings", param: name)
        }
        return list as? [String]
    }

    public mutating func int(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = value(name) else { return nil }
        guard !Self.isBool(v), let n = v as? NSNumber, let d = Optional(n.doubleValue), d == d.rounded(), abs(d) < 1e15 else {
            throw APIError.invalid("'\(name)' must be an integer", param: name)
        }
        let i = Int(d)
        guard range.contains(i) else {
            throw APIError.invalid("'\(name)' must be between \(range.lowerBound) and \(range.upperBound), got \(i)", param: name)
        }
        return i
    }

    public mutating func double(_ name: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let v = value(name) else { return nil }
        guard !Self.isBool(v), let n = v as? NSNumber, n.doubleValue.isFinite else {
            throw APIError.invalid("'\(name)' must be a number", param: name)
        }
        guard range.contains(n.doubleValue) else {
            throw APIError.invalid("'\(name)' must be between \(range.lowerBound) and \(range.upperBound), got \(n.doubleValue)", param: name)
        }
        return n.doubleValue
    }

    public mutating func bool(_ name: String) throws -> Bool? {
        guard let v = value(name) else { return nil }
        guard Self.isBool(v), let b = v as? Bool else { throw APIError.invalid("'\(name)' must be true or false", param: name) }
        return b
    }

    /// Fails on the first field (alphabetically) that no accessor read.
    public func finish() throws {
        if let extra = object.keys.filter({ !read.contains($0) }).sorted().first {
            throw APIError.invalid("unknown field '\(extra)'", param: extra, code: "unknown_field")
        }
    }
}
