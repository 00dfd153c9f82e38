import Foundation
import XCTest
@testable import GLMTasks

/// The SuperGLUE task fixtures (tasks/superglue/<task>.json): settings, splits, and every item's
/// `sample` dict turned into a `ClozeSample` directly (no encoder involved).
enum SuperGLUEScoreFixtures {
    static let tasks = ["copa", "wsc", "rte", "wic", "cb", "multirc", "boolq", "record"]

    static func settings() throws -> [ScoredSetting] {
        try tasks.flatMap { task in
            let file = "tasks/superglue/\(task).json"
            return try (Fixtures.json(file)["settings"] as? [[String: Any]] ?? []).map { try ScoredSetting($0, task: task) }
        }
    }

    static func scoredSettings() throws -> [ScoredSetting] { try settings().filter { $0.model != nil } }

    /// A cloze scorer for a setting: the setting's model (loaded once, shared with the multichoice tests).
    static func scorer(for setting: ScoredSetting, batchSize: Int = 10) throws -> ClozeScorer {
        try ClozeScorer(model: try Fixtures.scorer(setting.model!).model, lengthPenalty: setting.lengthPenalty,
                        takeSoftmax: setting.takeSoftmax && !setting.multiToken, batchSize: batchSize)
    }

    /// The fixture item's `sample` as the encoders produce it.
    static func sample(_ item: [String: Any], multiToken: Bool) throws -> ClozeSample {
        guard let s = item["sample"] as? [String: Any], let uid = s["uid"] as? String, let label = s["label"] as? Int else {
            throw Fixtures.Missing(path: "an item without sample/uid/label")
        }
        if multiToken {
            let text = ints2(s["text"]), pos = ints3(s["position"]), seps = ints(s["mask"])
            let targets = ints2(s["target"]), logitMasks = ints2(s["logit_mask"])
            let rows = text.indices.map { c in
                ClozeSample.Row(ids: text[c], positions: pos[c][0], blockPositions: pos[c][1], targets: targets[c],
                                logitMask: logitMasks[c], sep: seps[c])
            }
            return ClozeSample(kind: .multiToken, rows: rows, label: label, uid: uid)
        }
        let pos = ints2(s["position"])
        guard let sep = s["mask"] as? Int else { throw Fixtures.Missing(path: "single-token sample without an int mask") }
        let row = ClozeSample.Row(ids: ints(s["text"]), positions: pos[0], blockPositions: pos[1], targets: [],
                                  logitMask: ints(s["logit_mask"]), sep: sep)
        return ClozeSample(kind: .singleToken(verbalizerIds: ints(s["target"])), rows: [row], label: label, uid: uid)
    }
}

struct ScoredSetting {
    let task: String, name: String, model: String?
    let multiToken: Bool, lengthPenalty: Double, lossFunction: String, takeSoftmax: Bool
    let splits: [ScoredSplit]

    var title: String { "\(task) [\(name)] \(model ?? "-")" }
    var isSharp: Bool { model?.hasSuffix("-sharp") == true }

    init(_ j: [String: Any], task: String) throws {
        guard let name = j["name"] as? String, let multi = j["multi_token"] as? Bool, let lp = j["length_penalty"] as? Double,
              let loss = j["loss_func"] as? String, let splits = j["splits"] as? [String: [String: Any]] else {
            throw Fixtures.Missing(path: "tasks/superglue/\(task).json: a setting lacks name/multi_token/length_penalty/loss_func/splits")
        }
        self.task = task; self.name = name; model = j["model_for_scores"] as? String
        multiToken = multi; lengthPenalty = lp; lossFunction = loss
        takeSoftmax = j["take_softmax"] as? Bool ?? false
        if model != nil {
            XCTAssertEqual(j["model_class"] as? String, multi ? "GLMForMultiTokenCloze" : "GLMForSingleTokenCloze", "\(task) \(name)")
        }
        self.splits = try splits.keys.sorted().map { try ScoredSplit(name: $0, splits[$0]!, multiToken: multi) }
    }
}

struct ScoredSplit {
    let name: String
    let items: [[String: Any]]
    let samples: [ClozeSample]
    let evalOrderGuids: [String], predictions: [Int], labels: [Int]
    let metrics: [String: Double]
    let trainLoss: Double?, trainOrderGuids: [String]

    init(name: String, _ j: [String: Any], multiToken: Bool) throws {
        self.name = name
        items = j["items"] as? [[String: Any]] ?? []
        samples = try items.map { try SuperGLUEScoreFixtures.sample($0, multiToken: multiToken) }
        evalOrderGuids = (j["eval_order_guids"] as? [String]) ?? []
        predictions = ints(j["predictions"]); labels = ints(j["labels"])
        metrics = (j["metrics"] as? [String: Any] ?? [:]).mapValues { ($0 as! NSNumber).doubleValue }
        trainLoss = (j["train_loss_one_batch_all_samples"] as? NSNumber)?.doubleValue
        trainOrderGuids = (j["train_batch_order_guids"] as? [String]) ?? []
    }

    /// The metric metadata of every evaluated example: the LAST item of each guid, in eval order.
    func metricExamples() -> [SuperGLUEMetricExample] {
        var last: [String: [String: Any]] = [:]
        for item in items { last[((item["sample"] as! [String: Any])["uid"] as! String)] = item }
        return evalOrderGuids.map { guid in
            let meta = ((last[guid]!["example"] as! [String: Any])["meta"] as? [String: Any]) ?? [:]
            return SuperGLUEMetricExample(questionIdx: meta["question_idx"] as? Int, candidates: meta["candidates"] as? [String] ?? [],
                                          answers: meta["answers"] as? [String] ?? [])
        }
    }
}
