import Foundation

/// The `glm generate --jsonl` protocol: one JSON object per input line `{"prompt": "..."}`, one JSON
/// object per output line. Kept in the library so the CLI, the HTTP server and the tests share it.
public enum GenerationJSONLines {
    /// The prompt of one input line, or a message saying what is wrong with it.
    public static func prompt(fromLine line: String) -> Result<String, GenerationError> {
        guard let data = line.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) else {
            return .failure(.badInput("not valid JSON"))
        }
        guard let dict = object as? [String: Any] else { return .failure(.badInput("not a JSON object (expected {\"prompt\": \"...\"})")) }
        guard let prompt = dict["prompt"] as? String else {
            return .failure(.badInput("no string field \"prompt\" (expected {\"prompt\": \"...\"})"))
        }
        return .success(prompt)
    }

    struct BlankLine: Encodable {
        let mask_position: Int
        let ids: [Int]
        let text: String
    }

    struct ResultLine: Encodable {
        let prompt: String
        let context_ids: [Int]
        let blanks: [BlankLine]
        let ids: [Int]
        let output: String
        let text: String
        let warning: String?

        func encode(to encoder: Encoder) throws {
            enum K: String, CodingKey { case prompt, context_ids, blanks, ids, output, text, warning }
            var c = encoder.container(keyedBy: K.self)
            try c.encode(prompt, forKey: .prompt)
            try c.encode(context_ids, forKey: .context_ids)
            try c.encode(blanks, forKey: .blanks)
            try c.encode(ids, forKey: .ids)
            try c.encode(output, forKey: .output)
            try c.encode(text, forKey: .text)
            try c.encodeIfPresent(warning, forKey: .warning)
        }
    }

    struct ErrorLine: Encodable {
        let error: String
        let line: Int
        let prompt: String?

        func encode(to encoder: Encoder) throws {
            enum K: String, CodingKey { case error, line, prompt }
            var c = encoder.container(keyedBy: K.self)
            try c.encode(error, forKey: .error)
            try c.encode(line, forKey: .line)
            try c.encodeIfPresent(prompt, forKey: .prompt)
        }
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.withoutEscapingSlashes]
        guard let data = try? e.encode(value), let s = String(data: data, encoding: .utf8) else {
            return "{\"error\":\"could not encode the result as JSON\"}"
        }
        return s
    }

    /// `{"prompt", "context_ids", "blanks": [{"mask_position", "ids", "text"}], "ids", "output", "text"}`
    /// plus `"warning"` when the prompt had nothing to fill.
    public static func line(for r: GenerationResult) -> String {
        encode(ResultLine(prompt: r.prompt, context_ids: r.contextIds,
                          blanks: r.blanks.map { BlankLine(mask_position: $0.maskPosition, ids: $0.ids, text: $0.text) },
                          ids: r.ids, output: r.output, text: r.text, warning: r.warning))
    }

    /// `{"error": "...", "line": n}` (+ the prompt when the line had one).
    public static func errorLine(_ message: String, line: Int, prompt: String? = nil) -> String {
        encode(ErrorLine(error: message, line: line, prompt: prompt))
    }
}
