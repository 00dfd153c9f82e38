import Foundation
import XCTest
import GLM
@testable import GLMTasks

/// End to end, text to metrics: the fixture's jsonl read as the dev split by our processor, encoded by our
/// PVPs, scored by our cloze model on the sharp tiny model, evaluated and measured — equal to the metrics
/// the original's finetune.py computed for the same file and model.
final class SuperGLUEEvaluatorTests: XCTestCase {
    func testEveryTaskFromTextToMetricsMatchesTheOriginal() throws {
        let model = try GLMModel.load(try Fixtures.require("models/glm-tiny-bert-sharp"))
        var checked: [String] = []
        for task in SuperGLUETask.allCases {
            let file = try SuperGLUEFixtures.file(task.rawValue)
            let settings = (file["settings"] as! [[String: Any]]).filter { ($0["model_for_scores"] as? String) == "glm-tiny-bert-sharp" }
            XCTAssertFalse(settings.isEmpty, "\(task): no sharp-model setting")
            for s in settings {
                let ours = try SuperGLUEFixtures.settings(task, s)
                let processor = SuperGLUEProcessor(task: task, recordAnswerOrder: SuperGLUEFixtures.recordAnswerOrder(file))
                let examples = try processor.examples(file: try SuperGLUEFixtures.inputPath(task.rawValue), split: .dev)
                let dataset = try SuperGLUEDataset(settings: ours, split: .dev, examples: examples,
                                                   tokenizer: try SuperGLUEFixtures.tokenizer(s["tokenizer"] as! String))
                let result = try SuperGLUEEvaluator.evaluate(dataset, model: model)
                let dev = (s["splits"] as! [String: Any])["dev"] as! [String: Any]
                let expected = dev["metrics"] as! [String: Any]
                XCTAssertEqual(Set(result.metrics.map(\.name)), Set(expected.keys), "\(task)")
                for (name, value) in result.metrics {
                    XCTAssertEqual(value, (expected[name] as! NSNumber).doubleValue, accuracy: 1e-9, "\(task) \(name)")
                }
                XCTAssertEqual(result.cloze.predictions, (dev["predictions"] as! [NSNumber]).map(\.intValue), "\(task)")
                checked.append(task.rawValue)
            }
        }
        XCTAssertEqual(Set(checked), Set(SuperGLUETask.allCases.map(\.rawValue)))
    }
}
