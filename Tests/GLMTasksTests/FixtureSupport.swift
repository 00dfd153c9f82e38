import Foundation
import XCTest
import GLMTestSupport
@testable import GLMTasks

/// The reference fixtures, read in place from <package root>/../shared/fixtures/glm-reference.
enum Fixtures {
    static let root: URL = ReferenceFixtures.root

    typealias Missing = ReferenceFixtures.Missing
    /// Fails (never skips) when a fixture is missing (`ReferenceFixtures.require`).
    static func require(_ relative: String) throws -> String { try ReferenceFixtures.require(relative) }
    static func json(_ relative: String) throws -> [String: Any] { try ReferenceFixtures.json(relative) }

    static let multichoiceFiles = ["tasks/multichoice/multichoice-en.json", "tasks/multichoice/multichoice-zh.json"]

    /// Scorers are loaded once per model and shared (weights are read-only during scoring).
    nonisolated(unsafe) private static var scorers: [String: MultipleChoiceScorer] = [:]
    private static let lock = NSLock()

    static func scorer(_ model: String) throws -> MultipleChoiceScorer {
        lock.lock(); defer { lock.unlock() }
        if let s = scorers[model] { return s }
        let s = try MultipleChoiceScorer.load(try require("models/\(model)"))
        scorers[model] = s
        return s
    }

    /// A scorer for one fixture setting: its model, seq length, direction and length penalty.
    static func scorer(for setting: MultichoiceSetting, batchSize: Int = 16) throws -> MultipleChoiceScorer {
        let base = try scorer(setting.model)
        let encoder = try MultipleChoiceEncoder(tokenizer: base.tokenizer, seqLength: setting.seqLength, unidirectional: setting.unidirectional)
        return try MultipleChoiceScorer(model: base.model, encoder: encoder, lengthPenalty: setting.lengthPenalty, batchSize: batchSize)
    }

    static func settings() throws -> [MultichoiceSetting] {
        try multichoiceFiles.flatMap { file in
            try (json(file)["settings"] as? [[String: Any]] ?? []).map { try MultichoiceSetting($0, file: file) }
        }
    }
}

func ints(_ any: Any?) -> [Int] { (any as? [Any] ?? []).map { ($0 as! NSNumber).intValue } }
func ints2(_ any: Any?) -> [[Int]] { (any as? [Any] ?? []).map(ints) }
func ints3(_ any: Any?) -> [[[Int]]] { (any as? [Any] ?? []).map(ints2) }
func doubles(_ any: Any?) -> [Double] { (any as? [Any] ?? []).map { ($0 as! NSNumber).doubleValue } }

/// One setting of a multichoice fixture file, fields read and checked rather than assumed.
struct MultichoiceSetting {
    let file: String, name: String, model: String
    let seqLength: Int, unidirectional: Bool, lengthPenalty: Double
    let items: [[String: Any]]
    let predictions: [Int], labels: [Int], accuracy: Double

    var title: String { "\(file) [\(name)] \(model)" }

    init(_ j: [String: Any], file: String) throws {
        guard let name = j["name"] as? String, let model = j["model_for_scores"] as? String,
              let seq = j["seq_length"] as? Int, let uni = j["unidirectional"] as? Bool,
              let lp = j["length_penalty"] as? Double, let items = j["items"] as? [[String: Any]],
              let acc = (j["metrics"] as? [String: Any])?["accuracy"] as? Double else {
            throw Fixtures.Missing(path: "\(file): a setting lacks name/model_for_scores/seq_length/unidirectional/length_penalty/items/metrics")
        }
        XCTAssertEqual(j["model_class"] as? String, "GLMForMultiTokenCloze")
        self.file = file; self.name = name; self.model = model
        seqLength = seq; unidirectional = uni; lengthPenalty = lp; self.items = items
        predictions = ints(j["predictions"]); labels = ints(j["labels"]); accuracy = acc
    }

    /// The input line of every item as the data reader parses it.
    func lines() throws -> [MultipleChoiceItem] {
        try items.enumerated().map { i, item in
            let data = try JSONSerialization.data(withJSONObject: item["line"] as Any)
            return try MultipleChoiceData.parse(String(decoding: data, as: UTF8.self), file: file, line: i + 1)
        }
    }
}
