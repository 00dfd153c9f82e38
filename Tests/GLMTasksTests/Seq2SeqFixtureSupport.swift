import Foundation
import XCTest
import GLMTokenizers
@testable import GLMTasks

/// The `tasks/seq2seq/<task>.json` fixtures (encodings of the original's seq2seq datasets), read in place.
enum S2SFixtures {
    static let folder = "tasks/seq2seq"

    static func runs(_ task: String) throws -> [[String: Any]] {
        let json = try Fixtures.json("\(folder)/\(task).json")
        XCTAssertEqual(json["task"] as? String, task)
        let runs = json["runs"] as? [[String: Any]] ?? []
        XCTAssertFalse(runs.isEmpty, task)
        return runs
    }

    static func title(_ task: String, _ run: [String: Any]) -> String { "\(task).json [\(run["name"] as? String ?? "?")]" }

    static func flags(_ run: [String: Any]) -> [String] { run["command_line_flags"] as? [String] ?? [] }

    /// The value after the first (`last: false`) or last occurrence of a flag (argparse: the last wins).
    static func flag(_ run: [String: Any], _ name: String, last: Bool = true) -> String? {
        let f = flags(run)
        let hits = f.indices.filter { f[$0] == name && $0 + 1 < f.count }
        guard let i = last ? hits.last : hits.first else { return nil }
        return f[i + 1]
    }

    static func has(_ run: [String: Any], _ name: String) -> Bool { flags(run).contains(name) }

    /// The tokenizer preset of a run's `--tokenizer-type` (glm-tiny-bert = glm-large flags; the GLM-10B
    /// flags; glm-tiny-chinese = glm-large-chinese flags with `--fix-command-token`).
    static func preset(_ run: [String: Any]) throws -> TokenizerPreset {
        let p: TokenizerPreset
        switch flag(run, "--tokenizer-type") {
        case "BertWordPieceTokenizer": p = .glmLarge
        case "GPT2BPETokenizer": p = .glm10B
        case "ChineseSPTokenizer": p = .glmLargeChinese
        case let other: throw Fixtures.Missing(path: "unknown --tokenizer-type \(other ?? "nil")")
        }
        XCTAssertEqual(p.taskMask, has(run, "--task-mask"), "tokenizer task mask")
        XCTAssertEqual(p.fixCommandToken, has(run, "--fix-command-token"), "tokenizer --fix-command-token")
        return p
    }

    nonisolated(unsafe) private static var tokenizers: [String: GLMTokenizer] = [:]
    private static let lock = NSLock()

    static func tokenizer(_ run: [String: Any]) throws -> GLMTokenizer {
        let p = try preset(run)
        lock.lock(); defer { lock.unlock() }
        if let t = tokenizers[p.name] { return t }
        let t = try p.load()
        tokenizers[p.name] = t
        return t
    }

    /// The BERT tokenizer of the glm-tiny-bert runs (glm-large flags).
    static func bert() throws -> GLMTokenizer { try tokenizer(["command_line_flags": ["--tokenizer-type", "BertWordPieceTokenizer"]]) }

    /// The run's task: the preset of its `--task` (checked against the config's flags, the first
    /// occurrence of each), then the run's overrides (the last occurrence, as argparse).
    static func task(_ run: [String: Any]) throws -> Seq2SeqTask {
        let title = run["name"] as? String ?? "?"
        guard let name = flag(run, "--task"), let kind = Seq2SeqTaskKind(rawValue: name) else {
            throw Fixtures.Missing(path: "\(title): no known --task")
        }
        let ratio = flag(run, "--blank-maskratio").flatMap(Double.init) ?? 0.1
        var task = Seq2SeqTask.preset(kind, taskMask: has(run, "--task-mask"), blankMaskRatio: ratio)
        // The preset equals the config's TASK_ARGS (the first occurrence of each flag).
        XCTAssertEqual(flag(run, "--src-seq-length", last: false), String(task.srcSeqLength), title)
        XCTAssertEqual(flag(run, "--tgt-seq-length", last: false), String(task.tgtSeqLength), title)
        XCTAssertEqual(flag(run, "--min-tgt-length", last: false), String(task.minTgtLength), title)
        XCTAssertEqual(flag(run, "--length-penalty").flatMap(Double.init), task.lengthPenalty, title)
        XCTAssertEqual(flag(run, "--no-repeat-ngram-size").flatMap(Int.init), task.noRepeatNgramSize, title)
        XCTAssertEqual(flag(run, "--num-beams").flatMap(Int.init) ?? 1, task.numBeams, title)
        XCTAssertEqual(has(run, "--select-topk"), task.selectTopK, title)
        XCTAssertEqual(flag(run, "--eval-batch-size").flatMap(Int.init), task.evalBatchSize, title)
        // The run's own values.
        task.srcSeqLength = Int(flag(run, "--src-seq-length")!)!
        task.tgtSeqLength = Int(flag(run, "--tgt-seq-length")!)!
        task.maskPadToken = has(run, "--mask-pad-token")
        task.noBlockPosition = has(run, "--no-block-position")
        if let seed = flag(run, "--seed").flatMap(Int.init) { task.seed = seed }
        XCTAssertEqual(task.srcSeqLength, (run["src_seq_length"] as? NSNumber)?.intValue, title)
        XCTAssertEqual(task.tgtSeqLength, (run["tgt_seq_length"] as? NSNumber)?.intValue, title)
        XCTAssertEqual(task.taskMask, run["task_mask"] as? Bool, title)
        if let r = run["blank_maskratio"] as? NSNumber { XCTAssertEqual(task.blankMaskRatio, r.doubleValue, title) }
        return task
    }

    /// The run's `--data-dir`, in the fixtures folder.
    static func dataDirectory(_ run: [String: Any]) throws -> String {
        guard let dir = flag(run, "--data-dir") else { throw Fixtures.Missing(path: "\(run["name"] ?? "?"): no --data-dir") }
        return try Fixtures.require(dir)
    }

    /// Every split of every run of `task`: our examples and samples (built in index order) against the
    /// fixture's, field by field and in order. Returns the number of items compared.
    @discardableResult
    static func checkAllRuns(_ taskName: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        var compared = 0
        for run in try runs(taskName) {
            let title = title(taskName, run)
            let task = try task(run)
            let tokenizer = try tokenizer(run)
            let dir = try dataDirectory(run)
            let splits = run["splits"] as? [String: Any] ?? [:]
            XCTAssertFalse(splits.isEmpty, title, file: file, line: line)
            for (splitName, value) in splits.sorted(by: { $0.key < $1.key }) {
                guard let split = Seq2SeqSplit(rawValue: splitName) else { XCTFail("\(title): split \(splitName)"); continue }
                let items = (value as? [String: Any])?["items"] as? [[String: Any]] ?? []
                var dataset = try Seq2SeqDataset(task: task, split: split, dataDirectory: dir, tokenizer: tokenizer)
                XCTAssertEqual(dataset.count, items.count, "\(title) \(splitName): item count", file: file, line: line)
                XCTAssertFalse(items.isEmpty, "\(title) \(splitName)", file: file, line: line)
                for (i, (example, item)) in zip(dataset.examples, items).enumerated() {
                    let at = "\(title) \(splitName) item \(i)"
                    checkExample(example, item["example"] as? [String: Any] ?? [:], at, file: file, line: line)
                    let sample = try dataset.sample(at: i)
                    XCTAssertEqual(!sample.isEvaluation, split.hasTargets(task.kind), "\(at): sample kind", file: file, line: line)
                    checkSample(sample, item["sample"] as? [String: Any] ?? [:], at, file: file, line: line)
                    compared += 1
                }
            }
        }
        return compared
    }

    static func checkExample(_ e: Seq2SeqExample, _ j: [String: Any], _ at: String, file: StaticString, line: UInt) {
        XCTAssertEqual(Set(j.keys), ["guid", "text_a", "text_b", "label", "idx", "num_choices", "meta"], at, file: file, line: line)
        XCTAssertEqual(e.guid, j["guid"] as? String, "\(at): guid", file: file, line: line)
        XCTAssertEqual(e.source, j["text_a"] as? String, "\(at): text_a", file: file, line: line)
        XCTAssertEqual(e.target, j["text_b"] as? String, "\(at): text_b", file: file, line: line)
        XCTAssertTrue(j["label"] is NSNull, "\(at): label", file: file, line: line)
        XCTAssertEqual((j["idx"] as? NSNumber)?.intValue, -1, "\(at): idx", file: file, line: line)
        XCTAssertEqual((j["num_choices"] as? NSNumber)?.intValue, 1, "\(at): num_choices", file: file, line: line)
        let meta = j["meta"] as? [String: Any] ?? [:]
        XCTAssertEqual(Set(meta.keys), ["ref"], "\(at): meta", file: file, line: line)
        XCTAssertEqual(e.ref, meta["ref"] as? String, "\(at): meta.ref", file: file, line: line)
    }

    static func checkSample(_ s: Seq2SeqSample, _ j: [String: Any], _ at: String, file: StaticString, line: UInt) {
        let keys = Set(j.keys.filter { !$0.hasPrefix("_") })
        let expected: Set<String> = s.isEvaluation ? ["text", "attention_mask", "position_id", "uid"]
            : ["text", "target", "attention_mask", "loss_mask", "position_id", "uid"]
        XCTAssertEqual(keys, expected, "\(at): keys", file: file, line: line)
        XCTAssertEqual(s.ids, ints(j["text"]), "\(at): text", file: file, line: line)
        XCTAssertEqual(s.positions, ints2(j["position_id"]), "\(at): position_id", file: file, line: line)
        XCTAssertEqual(s.uid, j["uid"] as? String, "\(at): uid", file: file, line: line)
        if !s.isEvaluation {
            XCTAssertEqual(s.targets, ints(j["target"]), "\(at): target", file: file, line: line)
            XCTAssertEqual(s.lossMask, ints(j["loss_mask"]), "\(at): loss_mask", file: file, line: line)
        }
        switch s.attention {
        case .sep(let sep):
            XCTAssertEqual(sep, (j["attention_mask"] as? NSNumber)?.intValue, "\(at): attention_mask", file: file, line: line)
        case .explicit(let m):
            XCTAssertEqual([m], ints3(j["attention_mask"]), "\(at): attention_mask [1, L, L]", file: file, line: line)
        }
        // The arrays line up: text, target, loss mask and both position rows have one length.
        let n = s.ids.count
        XCTAssertEqual(s.positions.map(\.count), [n, n], at, file: file, line: line)
        if let t = s.targets { XCTAssertEqual(t.count, n, at, file: file, line: line) }
    }
}
