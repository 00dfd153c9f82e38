import Foundation
import XCTest
@testable import GLMTasks

/// The `tasks/lm/` fixtures (LAMBADA, wikitext, language_model), read in place.
enum LMFixtures {
    static func settings(_ file: String) throws -> [[String: Any]] {
        let settings = try Fixtures.json("tasks/lm/\(file)")["settings"] as? [[String: Any]] ?? []
        XCTAssertFalse(settings.isEmpty, file)
        return settings
    }

    static func input(_ name: String) throws -> String { try Fixtures.require("tasks/lm/\(name)") }

    static func title(_ file: String, _ s: [String: Any]) -> String {
        "\(file) [\(s["name"] as? String ?? "?")] \(s["model_for_scores"] as? String ?? "?")"
    }

    /// The fixture `sample` as ours.
    static func sample(_ item: [String: Any]) -> LanguageModelSample {
        let s = item["sample"] as! [String: Any]
        return LanguageModelSample(ids: ints(s["text"]), positions: ints2(s["position_id"]), sep: (s["attention_mask"] as! NSNumber).intValue,
                                   targets: ints(s["target"]), lossMask: ints(s["loss_mask"]), length: (s["_real_length"] as! NSNumber).intValue)
    }

    static func model(_ s: [String: Any]) -> String { s["model_for_scores"] as! String }
    static func seqLength(_ s: [String: Any]) -> Int { (s["seq_length"] as! NSNumber).intValue }
    static func overlap(_ s: [String: Any]) -> Int? { (s["overlapping_eval"] as? NSNumber)?.intValue }
    static func unidirectional(_ s: [String: Any]) -> Bool { s["unidirectional"] as! Bool }
    static func metrics(_ s: [String: Any]) -> [String: Double] {
        (s["metrics"] as! [String: Any]).mapValues { ($0 as! NSNumber).doubleValue }
    }

    /// The corpus of a perplexity fixture file, read by our reader with the setting's model's tokenizer.
    static func corpus(_ file: String, _ s: [String: Any]) throws -> LanguageModelCorpus {
        let tokenizer = try Fixtures.scorer(model(s)).tokenizer
        return file == "wikitext.json"
            ? try LanguageModelCorpus.wikitext(file: try input("wikitext.tokens"), tokenizer: tokenizer)
            : try LanguageModelCorpus.lines(file: try input("lm.txt"), tokenizer: tokenizer)
    }

    static func windows(_ s: [String: Any]) throws -> LanguageModelWindows {
        try LanguageModelWindows(tokenizer: try Fixtures.scorer(model(s)).tokenizer, seqLength: seqLength(s),
                                 overlap: overlap(s), unidirectional: unidirectional(s))
    }

    static func lambadaEncoder(_ s: [String: Any]) throws -> LambadaEncoder {
        XCTAssertEqual(s["mask_token"] as? String, "MASK")
        XCTAssertEqual(s["strict"] as? Bool, true)
        return try LambadaEncoder(tokenizer: try Fixtures.scorer(model(s)).tokenizer, seqLength: seqLength(s), unidirectional: unidirectional(s))
    }

    static func evaluator(_ s: [String: Any], batchSize: Int = 16) throws -> LanguageModelEvaluator {
        try LanguageModelEvaluator(model: try Fixtures.scorer(model(s)).model, batchSize: batchSize)
    }
}
