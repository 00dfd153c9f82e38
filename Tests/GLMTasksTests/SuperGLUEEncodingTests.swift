import XCTest
@testable import GLMTasks

/// Every item of every setting (GLM-Large, reduced sequence length, GLM-10B with GPT-2) and both splits
/// of the SuperGLUE fixtures: examples, pattern parts and text, answers or verbalizers with their ids,
/// the encoded sample (ids, positions, block positions, sep, targets, logit mask, label, uid), the number
/// of truncated rows and the dataset order.
final class SuperGLUEEncodingTests: XCTestCase {
    func check(_ task: SuperGLUETask, settings: Int, items: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        var c = SuperGLUEFixtureCheck(task)
        try c.run(file: file, line: line)
        XCTAssertEqual(c.checkedSettings, settings, "\(task): settings checked", file: file, line: line)
        XCTAssertEqual(c.checkedItems, items, "\(task): items checked", file: file, line: line)
    }

    func testRTE() throws { try check(.rte, settings: 4, items: 4 * 8) }
    func testCB() throws { try check(.cb, settings: 2, items: 2 * 8) }
    func testBoolQ() throws { try check(.boolq, settings: 3, items: 3 * 8) }
    func testCOPA() throws { try check(.copa, settings: 4, items: 4 * 15) }
    func testWiC() throws { try check(.wic, settings: 2, items: 2 * 8) }
    func testWSC() throws { try check(.wsc, settings: 2, items: 2 * 10) }
    func testMultiRC() throws { try check(.multirc, settings: 3, items: 3 * 16) }
    func testReCoRD() throws { try check(.record, settings: 3, items: 3 * 9) }

    /// The fixture settings are our presets: GLM-Large from `config_tasks/task_<task>.sh`, GLM-10B with
    /// GPT-2, task masks and the appended `--pattern-id 0`; the truncation settings only change the length.
    func testSettingsArePresets() throws {
        var seen = 0
        for task in SuperGLUETask.allCases {
            for s in try SuperGLUEFixtures.file(task.rawValue)["settings"] as? [[String: Any]] ?? [] {
                let name = s["name"] as? String ?? ""
                let settings = try SuperGLUEFixtures.settings(task, s)
                var preset: SuperGLUESettings
                if name.hasPrefix("glm-10b") { preset = .glm10B(task) } else { preset = .glmLarge(task) }
                if name.contains("--seq-length") { preset.seqLength = settings.seqLength }
                XCTAssertEqual(settings, preset, "\(task) [\(name)]")
                let modelClass = (s["model_class"] ?? s["model_class_that_would_be_used"]) as? String
                XCTAssertEqual(preset.multiToken ? "GLMForMultiTokenCloze" : "GLMForSingleTokenCloze", modelClass, "\(task) [\(name)]")
                seen += 1
            }
        }
        XCTAssertEqual(seen, 23)
        XCTAssertEqual(try SuperGLUETask(named: "ReCoRD"), .record)
        XCTAssertThrowsError(try SuperGLUETask(named: "mnli"))
    }
}
