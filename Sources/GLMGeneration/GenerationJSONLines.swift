import Foundation
import GLMSupport

/// The `glm generate --jsonl` protocol: one JSON object per input line `{"prompt": "..."}`, one JSON
/// object per output line. Kept in the library so the CLI, library users and the tests share it.
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

    /// A JSON string literal (the shared escaper: quotes, backslashes, control characters, DEL; UTF-8 as is).
    static func quoted(_ s: String) -> String { JSONText.quote(s) }

    static func array(_ ids: [Int]) -> String { "[" + ids.map(String.init).joined(separator: ",") + "]" }

    /// An object with its fields in the given order (JSONEncoder would not keep the order).
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// `{"prompt", "context_ids", "blanks": [{"mask_position", "ids", "text"}], "ids", "output", "text"}`
    /// plus `"warning"` when the prompt had nothing to fill.
    public static func line(for r: GenerationResult) -> String {
        let blanks = r.blanks.map {
            object([("mask_position", String($0.maskPosition)), ("ids", array($0.ids)), ("text", quoted($0.text))])
        }
        var fields = [("prompt", quoted(r.prompt)), ("context_ids", array(r.contextIds)),
                      ("blanks", "[" + blanks.joined(separator: ",") + "]"), ("ids", array(r.ids)),
                      ("output", quoted(r.output)), ("text", quoted(r.text))]
        if let w = r.warning { fields.append(("warning", quoted(w))) }
        return object(fields)
    }

    /// `{"error": "...", "line": n}` (+ the prompt when the line had one).
    public static func errorLine(_ message: String, line: Int, prompt: String? = nil) -> String {
        var fields = [("error", quoted(message)), ("line", String(line))]
        if let prompt { fields.append(("prompt", quoted(prompt))) }
        return object(fields)
    }
}
