import Foundation
import XCTest
import GLMTokenizers
@testable import GLMTasks

/// Reading `tasks/superglue/<task>.json` (the original's processors, PVPs and `SuperGlueDataset` run on
/// `<task>.jsonl`, used as both `train.jsonl` and `val.jsonl`).
enum SuperGLUEFixtures {
    nonisolated(unsafe) private static var tokenizers: [String: GLMTokenizer] = [:]
    private static let lock = NSLock()

    /// The tokenizer a setting names: BERT WordPiece (GLM-Large) or GPT-2 BPE with task masks (GLM-10B).
    static func tokenizer(_ name: String) throws -> GLMTokenizer {
        lock.lock(); defer { lock.unlock() }
        if let t = tokenizers[name] { return t }
        let preset: TokenizerPreset
        switch name {
        case "BertWordPieceTokenizer": preset = .glmLarge
        case "GPT2BPETokenizer": preset = .glm10B
        default: throw Fixtures.Missing(path: "tokenizer \(name)")
        }
        let t = try preset.load()
        tokenizers[name] = t
        return t
    }

    static func file(_ task: String) throws -> [String: Any] { try Fixtures.json("tasks/superglue/\(task).json") }

    static func inputPath(_ task: String) throws -> String { try Fixtures.require("tasks/superglue/\(task).jsonl") }

    /// A fixture JSON value as a `SuperGLUEValue` (for exact comparisons with our examples).
    static func value(_ any: Any?) throws -> SuperGLUEValue {
        let data = try JSONSerialization.data(withJSONObject: [any ?? NSNull()], options: [.fragmentsAllowed])
        return try JSONDecoder().decode([SuperGLUEValue].self, from: data)[0]
    }

    /// A setting's flags as our settings value.
    static func settings(_ task: SuperGLUETask, _ s: [String: Any]) throws -> SuperGLUESettings {
        guard let seq = s["seq_length"] as? Int, let pattern = s["pattern_id"] as? Int, let multi = s["multi_token"] as? Bool,
              let loss = s["loss_func"] as? String, let lp = (s["length_penalty"] as? NSNumber)?.doubleValue,
              let wscNeg = s["wsc_negative"] as? Bool, let taskMask = s["task_mask"] as? Bool, let tok = s["tokenizer"] as? String else {
            throw Fixtures.Missing(path: "tasks/superglue/\(task.rawValue).json: a setting lacks a field")
        }
        return SuperGLUESettings(task: task, seqLength: seq, patternId: pattern, multiToken: multi, lossFunc: loss, lengthPenalty: lp,
                                 wscNegative: wscNeg, taskMask: taskMask, tokenizer: tok == "GPT2BPETokenizer" ? .glm10B : .glmLarge)
    }

    /// The fixture's pattern parts in our form (`{"text", "shortenable"}` / `{"mask_ids": [id]}`).
    static func parts(_ any: Any?, maskId: Int) -> [PatternPart]? {
        guard let list = any as? [[String: Any]] else { return nil }
        return list.compactMap { d in
            if let t = d["text"] as? String { return .text(t, shortenable: d["shortenable"] as? Bool ?? false) }
            if d["mask_ids"] != nil { return ints(d["mask_ids"]) == [maskId] ? .mask : .text("<mask ids \(ints(d["mask_ids"]))>", shortenable: false) }
            return nil
        }
    }

    /// ReCoRD answers come from a Python `set` (order depends on the generator's hash seed): the order the
    /// fixture run had, read from its dev examples' `meta.answers`.
    static func recordAnswerOrder(_ file: [String: Any]) -> @Sendable ([String]) -> [String] {
        var orders: [[String]] = []
        for s in file["settings"] as? [[String: Any]] ?? [] {
            for item in ((s["splits"] as? [String: Any])?["dev"] as? [String: Any])?["items"] as? [[String: Any]] ?? [] {
                if let a = ((item["example"] as? [String: Any])?["meta"] as? [String: Any])?["answers"] as? [String] { orders.append(a) }
            }
        }
        let known = orders
        return { answers in known.first { Set($0) == Set(answers) && $0.count == answers.count } ?? answers }
    }
}

/// Every setting and split of one task fixture against our processor, PVP and encoder.
struct SuperGLUEFixtureCheck {
    let task: SuperGLUETask
    var checkedItems = 0
    var checkedSettings = 0

    init(_ task: SuperGLUETask) { self.task = task }

    mutating func run(file: StaticString = #filePath, line: UInt = #line) throws {
        let fixture = try SuperGLUEFixtures.file(task.rawValue)
        let input = try SuperGLUEFixtures.inputPath(task.rawValue)
        let processor = SuperGLUEProcessor(task: task, recordAnswerOrder: SuperGLUEFixtures.recordAnswerOrder(fixture))
        let settingsList = fixture["settings"] as? [[String: Any]] ?? []
        XCTAssertFalse(settingsList.isEmpty, "\(task): no settings", file: file, line: line)
        for s in settingsList {
            let name = s["name"] as? String ?? "?"
            let settings = try SuperGLUEFixtures.settings(task, s)
            let tokenizer = try SuperGLUEFixtures.tokenizer(s["tokenizer"] as? String ?? "")
            XCTAssertEqual(task.labels, try SuperGLUEFixtures.value(s["labels"]).array, "\(task) [\(name)]: labels", file: file, line: line)
            for (splitName, split) in [("train", SuperGLUESplit.train), ("dev", .dev)] {
                guard let fx = (s["splits"] as? [String: Any])?[splitName] as? [String: Any] else {
                    XCTFail("\(task) [\(name)]: no split \(splitName)", file: file, line: line); continue
                }
                let what = "\(task) [\(name)] \(splitName)"
                let examples = try processor.examples(file: input, split: split)
                let dataset = try SuperGLUEDataset(settings: settings, split: split, examples: examples, tokenizer: tokenizer)
                let items = fx["items"] as? [[String: Any]] ?? []
                XCTAssertEqual(dataset.examples.map(\.guid), items.map { ($0["example"] as? [String: Any])?["guid"] as? String ?? "?" },
                               "\(what): item order", file: file, line: line)
                XCTAssertEqual(dataset.numTruncated, fx["num_truncated_by_pvp"] as? Int, "\(what): num_truncated", file: file, line: line)
                XCTAssertEqual(dataset.variableNumChoices, fx["variable_num_choices"] as? Bool, "\(what): variable_num_choices", file: file, line: line)
                let encoder = try ClozeEncoder(tokenizer: tokenizer, settings: settings, split: split)
                let maskId = tokenizer.commandToken(.MASK)!
                for (i, (ex, item)) in zip(dataset.examples, items).enumerated() {
                    let w = "\(what) item \(i) (\(ex.guid))"
                    XCTAssertEqual(ex.jsonValue, try SuperGLUEFixtures.value(item["example"]), "\(w): example", file: file, line: line)
                    let pattern = try encoder.pvp.parts(ex)
                    XCTAssertEqual(pattern.text, item["pattern_text"] as? String, "\(w): pattern_text", file: file, line: line)
                    XCTAssertEqual(pattern.a, SuperGLUEFixtures.parts(item["pattern_parts_a"], maskId: maskId), "\(w): parts a", file: file, line: line)
                    XCTAssertEqual(pattern.b, SuperGLUEFixtures.parts(item["pattern_parts_b"], maskId: maskId) ?? [], "\(w): parts b", file: file, line: line)
                    let sample = dataset.samples[i]
                    let fs = item["sample"] as? [String: Any] ?? [:]
                    if settings.multiToken {
                        XCTAssertEqual(try encoder.pvp.answers(ex), item["answers"] as? [String], "\(w): answers", file: file, line: line)
                        XCTAssertEqual(try encoder.answerIds(ex), ints2(item["answer_ids"]), "\(w): answer_ids", file: file, line: line)
                        XCTAssertEqual(sample.kind, .multiToken, file: file, line: line)
                        XCTAssertEqual(sample.rows.map(\.ids), ints2(fs["text"]), "\(w): text", file: file, line: line)
                        XCTAssertEqual(sample.rows.map { [$0.positions, $0.blockPositions] }, ints3(fs["position"]), "\(w): position", file: file, line: line)
                        XCTAssertEqual(sample.rows.map(\.sep), ints(fs["mask"]), "\(w): mask (sep)", file: file, line: line)
                        XCTAssertEqual(sample.rows.map(\.targets), ints2(fs["target"]), "\(w): target", file: file, line: line)
                        XCTAssertEqual(sample.rows.map(\.logitMask), ints2(fs["logit_mask"]), "\(w): logit_mask", file: file, line: line)
                    } else {
                        XCTAssertEqual(try encoder.pvp.answers(ex), item["verbalizers"] as? [String], "\(w): verbalizers", file: file, line: line)
                        XCTAssertEqual(try encoder.verbalizerIds(), ints(item["verbalizer_ids"]), "\(w): verbalizer_ids", file: file, line: line)
                        XCTAssertEqual(sample.kind, .singleToken(verbalizerIds: ints(fs["target"])), "\(w): target", file: file, line: line)
                        XCTAssertEqual(sample.rows.count, 1, file: file, line: line)
                        let r = sample.rows[0]
                        XCTAssertEqual(r.ids, ints(fs["text"]), "\(w): text", file: file, line: line)
                        XCTAssertEqual([r.positions, r.blockPositions], ints2(fs["position"]), "\(w): position", file: file, line: line)
                        XCTAssertEqual(r.sep, (fs["mask"] as? NSNumber)?.intValue, "\(w): mask (sep)", file: file, line: line)
                        XCTAssertEqual(r.logitMask, ints(fs["logit_mask"]), "\(w): logit_mask", file: file, line: line)
                    }
                    XCTAssertEqual(sample.label, (fs["label"] as? NSNumber)?.intValue, "\(w): label", file: file, line: line)
                    XCTAssertEqual(sample.uid, fs["uid"] as? String, "\(w): uid", file: file, line: line)
                    // No continuous prompt: `prompt_pos` is empty ([] or one [] per choice).
                    let promptPos = fs["prompt_pos"] as? [Any] ?? []
                    XCTAssertTrue(promptPos.allSatisfy { ($0 as? [Any])?.isEmpty ?? false }, "\(w): prompt_pos", file: file, line: line)
                    checkedItems += 1
                }
            }
            checkedSettings += 1
        }
    }
}
