import Foundation
import XCTest
@testable import GLMTasks

/// `TaskFixtureRunner` (`glm inspect task`) on every tasks/superglue, tasks/multichoice and tasks/lm fixture:
/// its output against the fixture file itself — sample arrays exactly, scores within the scorer tests'
/// tolerances, predictions where the fixture's margin allows, metrics, and the one-batch train loss.
final class TaskFixtureRunnerTests: XCTestCase {
    /// Shared by the tests of this class: models are loaded once.
    nonisolated(unsafe) static let runner: TaskFixtureRunner = {
        let r = TaskFixtureRunner(models: Fixtures.root.appendingPathComponent("models").path)
        r.batchSize = 64
        return r
    }()

    /// Runs the fixture through the runner, and through JSON text (the CLI's output), read back.
    func run(_ relative: String) throws -> (ours: [String: Any], fixture: [String: Any]) {
        let path = try Fixtures.require(relative)
        let data = try Self.runner.runJSON(fixture: path)
        let ours = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return (ours, try Fixtures.json(relative))
    }

    static func settings(_ j: [String: Any]) -> [[String: Any]] { j["settings"] as? [[String: Any]] ?? [] }

    func assertSameInts(_ a: Any?, _ b: Any?, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(Self.sameInts(a, b), "\(what): \(String(describing: a).prefix(200)) vs \(String(describing: b).prefix(200))", file: file, line: line)
    }

    /// Nested int arrays (or ints, strings) equal.
    static func sameInts(_ a: Any?, _ b: Any?) -> Bool {
        if let x = a as? [Any], let y = b as? [Any] { return x.count == y.count && zip(x, y).allSatisfy { sameInts($0, $1) } }
        if let x = a as? String, let y = b as? String { return x == y }
        if let x = a as? NSNumber, let y = b as? NSNumber { return x.intValue == y.intValue && x.doubleValue == y.doubleValue }
        return a == nil && b == nil
    }

    func assertMetrics(_ ours: Any?, _ expected: Any?, relative: Double = 1e-12, _ what: String) {
        let o = (ours as? [String: Any] ?? [:]).mapValues { ($0 as! NSNumber).doubleValue }
        let e = (expected as? [String: Any] ?? [:]).mapValues { ($0 as! NSNumber).doubleValue }
        XCTAssertEqual(Set(o.keys), Set(e.keys), what)
        for (k, v) in e { XCTAssertEqual(o[k] ?? .nan, v, accuracy: relative * max(1, abs(v)), "\(what): \(k)") }
    }

    // MARK: - SuperGLUE

    func testEverySuperGLUEFixtureRoundTrips() throws {
        var items = 0, scored = 0, losses = 0, maxLossDelta = 0.0
        for task in SuperGLUEScoreFixtures.tasks {
            let (ours, fixture) = try run("tasks/superglue/\(task).json")
            XCTAssertEqual(ours["input_file"] as? String, fixture["input_file"] as? String)
            let os = Self.settings(ours), fs = Self.settings(fixture)
            XCTAssertEqual(os.count, fs.count, task)
            for (o, f) in zip(os, fs) {
                let title = "\(task) [\(f["name"] as? String ?? "?")]"
                for key in ["seq_length", "pattern_id", "multi_token", "loss_func", "wsc_negative", "task_mask", "tokenizer", "model_class", "take_softmax"] {
                    XCTAssertEqual(o[key] as? NSObject, f[key] as? NSObject, "\(title): \(key)")
                }
                XCTAssertEqual((o["length_penalty"] as? NSNumber)?.doubleValue, (f["length_penalty"] as? NSNumber)?.doubleValue, title)
                assertSameInts(o["labels"], f["labels"], "\(title): labels")
                let sharp = (f["model_for_scores"] as? String)?.hasSuffix("-sharp") == true
                let multi = f["multi_token"] as! Bool
                for split in ["train", "dev"] {
                    let osp = (o["splits"] as! [String: Any])[split] as! [String: Any]
                    let fsp = (f["splits"] as! [String: Any])[split] as! [String: Any]
                    let what = "\(title) \(split)"
                    XCTAssertEqual(osp["num_truncated_by_pvp"] as? Int, fsp["num_truncated_by_pvp"] as? Int, what)
                    XCTAssertEqual(osp["variable_num_choices"] as? Bool, fsp["variable_num_choices"] as? Bool, what)
                    let oi = osp["items"] as! [[String: Any]], fi = fsp["items"] as! [[String: Any]]
                    XCTAssertEqual(oi.count, fi.count, what)
                    for (i, (a, b)) in zip(oi, fi).enumerated() {
                        let w = "\(what) item \(i)"
                        let sa = a["sample"] as! [String: Any], sb = b["sample"] as! [String: Any]
                        for key in ["text", "position", "mask", "target", "logit_mask", "label", "uid", "prompt_pos"] {
                            assertSameInts(sa[key], sb[key], "\(w): sample.\(key)")
                        }
                        XCTAssertEqual(a["pattern_text"] as? String, b["pattern_text"] as? String, w)
                        XCTAssertEqual(try SuperGLUEFixtures.value(a["example"]), try SuperGLUEFixtures.value(b["example"]), "\(w): example")
                        for key in multi ? ["answers", "answer_ids"] : ["verbalizers", "verbalizer_ids"] { assertSameInts(a[key], b[key], "\(w): \(key)") }
                        XCTAssertEqual(SuperGLUEFixtures.parts(a["pattern_parts_a"], maskId: -1), SuperGLUEFixtures.parts(b["pattern_parts_a"], maskId: -1), w)
                        XCTAssertEqual(SuperGLUEFixtures.parts(a["pattern_parts_b"], maskId: -1) ?? [],
                                       SuperGLUEFixtures.parts(b["pattern_parts_b"], maskId: -1) ?? [], w)
                        items += 1
                        guard b["scores"] != nil else { XCTAssertNil(a["scores"], w); continue }
                        let os = doubles(a["scores"]), es = doubles(b["scores"])
                        XCTAssertEqual(os.count, es.count, w)
                        for (x, e) in zip(os, es) { XCTAssertEqual(x, e, accuracy: ClozeScorerTests.tolerance(e), "\(w): score") }
                        scored += 1
                        if b["eval_batch_loss_mask"] != nil { assertSameInts(a["eval_batch_loss_mask"], b["eval_batch_loss_mask"], "\(w): eval_batch_loss_mask") }
                        if b["scores_with_padded_choices"] != nil {
                            for (x, e) in zip(doubles(a["scores_with_padded_choices"]), doubles(b["scores_with_padded_choices"])) {
                                XCTAssertEqual(x, e, accuracy: ClozeScorerTests.tolerance(e), "\(w): padded score")
                            }
                        }
                        let masked = ClozePrediction.masked(es, width: ints(b["eval_batch_loss_mask"]).count).sorted(by: >)
                        if sharp || masked.count < 2 || masked[0] - masked[1] > 10 * ClozeScorerTests.tolerance(masked[0]) {
                            XCTAssertEqual(a["argmax_choice"] as? Int, b["argmax_choice"] as? Int, "\(w): argmax")
                        }
                    }
                    guard fsp["metrics"] != nil else { XCTAssertNil(osp["metrics"], what); continue }
                    XCTAssertEqual(osp["eval_order_guids"] as? [String], fsp["eval_order_guids"] as? [String], what)
                    assertSameInts(osp["labels"], fsp["labels"], "\(what): labels")
                    // Tiny-model scores may differ from the original's by ~1e-5 where choices tie within ~1e-3:
                    // predictions and metrics are compared where ours equal the fixture's or the model is sharp.
                    if sharp || Self.sameInts(osp["predictions"], fsp["predictions"]) {
                        assertSameInts(osp["predictions"], fsp["predictions"], "\(what): predictions")
                        assertMetrics(osp["metrics"], fsp["metrics"], what)
                    }
                    if split == "train" {
                        XCTAssertEqual(osp["train_batch_order_guids"] as? [String], fsp["train_batch_order_guids"] as? [String], what)
                        let e = (fsp["train_loss_one_batch_all_samples"] as! NSNumber).doubleValue
                        let x = try XCTUnwrap(osp["train_loss_one_batch_all_samples"] as? NSNumber, what).doubleValue
                        maxLossDelta = max(maxLossDelta, abs(x - e))
                        XCTAssertEqual(x, e, accuracy: 1e-4, "\(what): train loss")
                        losses += 1
                    }
                }
            }
        }
        print("inspect task superglue: \(items) items, \(scored) scored, \(losses) train losses (max |Δ| \(maxLossDelta))")
        XCTAssertEqual(losses, 21)
        XCTAssertGreaterThan(scored, 0)
    }

    // MARK: - multichoice

    func testEveryMultichoiceFixtureRoundTrips() throws {
        var checked = 0
        for file in Fixtures.multichoiceFiles {
            let (ours, fixture) = try run(file)
            let os = Self.settings(ours), fs = Self.settings(fixture)
            XCTAssertEqual(os.count, fs.count, file)
            for (o, f) in zip(os, fs) {
                let title = "\(file) [\(f["name"] as? String ?? "?")]"
                let sharp = (f["model_for_scores"] as? String)?.hasSuffix("-sharp") == true
                for key in ["seq_length", "unidirectional", "task_mask", "model_class", "mask_token_used", "length_penalty"] { XCTAssertEqual(o[key] as? NSObject, f[key] as? NSObject, "\(title): \(key)") }
                let oi = o["items"] as! [[String: Any]], fi = f["items"] as! [[String: Any]]
                XCTAssertEqual(oi.count, fi.count, title)
                for (i, (a, b)) in zip(oi, fi).enumerated() {
                    let w = "\(title) item \(i)"
                    let sa = a["sample"] as! [String: Any], sb = b["sample"] as! [String: Any]
                    for key in ["text", "position", "mask", "target", "logit_mask", "label", "uid"] { assertSameInts(sa[key], sb[key], "\(w): sample.\(key)") }
                    for key in ["inputs_ids_EncodeAsIds", "choices_ids_EncodeAsIds", "eval_batch_loss_mask", "label"] { assertSameInts(a[key], b[key], "\(w): \(key)") }
                    XCTAssertEqual(a["line"] as? NSDictionary, b["line"] as? NSDictionary, "\(w): line")
                    let es = doubles(b["scores"])
                    for (x, e) in zip(doubles(a["scores"]), es) { XCTAssertEqual(x, e, accuracy: 2e-5 * max(1, abs(e) / 50), "\(w): score") }
                    let sorted = es.sorted(by: >)
                    if sharp || sorted.count < 2 || sorted[0] - sorted[1] > 2e-4 { assertSameInts(a["prediction"], b["prediction"], "\(w): prediction") }
                    checked += 1
                }
                assertSameInts(o["labels"], f["labels"], "\(title): labels")
                if sharp || Self.sameInts(o["predictions"], f["predictions"]) {
                    assertSameInts(o["predictions"], f["predictions"], "\(title): predictions")
                    assertMetrics(o["metrics"], f["metrics"], title)
                }
            }
        }
        XCTAssertGreaterThan(checked, 0)
    }

    // MARK: - LM

    func assertLMItem(_ a: [String: Any], _ b: [String: Any], _ w: String) {
        let sa = a["sample"] as! [String: Any], sb = b["sample"] as! [String: Any]
        for key in ["text", "target", "attention_mask", "loss_mask", "position_id"] { assertSameInts(sa[key], sb[key], "\(w): sample.\(key)") }
        for key in ["num_loss_tokens", "loss_positions", "target_ids_at_loss_positions", "argmax_at_loss_positions", "all_correct"] {
            assertSameInts(a[key], b[key], "\(w): \(key)")
        }
        let n = Double(max((b["num_loss_tokens"] as! NSNumber).intValue, 1))
        XCTAssertEqual((a["loss_sum"] as! NSNumber).doubleValue, (b["loss_sum"] as! NSNumber).doubleValue, accuracy: 2e-5 * n, "\(w): loss_sum")
        for (x, e) in zip(doubles(a["target_logprob_at_loss_positions"]), doubles(b["target_logprob_at_loss_positions"])) {
            XCTAssertEqual(x, e, accuracy: 2e-5, "\(w): logprob")
        }
    }

    func testEveryLMFixtureRoundTrips() throws {
        var windows = 0
        for file in ["lambada.json", "lm.json", "wikitext.json"] {
            let (ours, fixture) = try run("tasks/lm/\(file)")
            let os = Self.settings(ours), fs = Self.settings(fixture)
            XCTAssertEqual(os.count, fs.count, file)
            for (o, f) in zip(os, fs) {
                let title = LMFixtures.title(file, f)
                let oi = o["items"] as! [[String: Any]], fi = f["items"] as! [[String: Any]]
                XCTAssertEqual(oi.count, fi.count, title)
                for (i, (a, b)) in zip(oi, fi).enumerated() { assertLMItem(a, b, "\(title) item \(i)"); windows += 1 }
                if file == "lambada.json" {
                    for (a, b) in zip(oi, fi) {
                        XCTAssertEqual(a["text"] as? String, b["text"] as? String, title)
                        assertSameInts(a["context_ids (LambadaDataset.tokens)"], b["context_ids (LambadaDataset.tokens)"], title)
                        assertSameInts(a["last_word_ids (LambadaDataset.labels)"], b["last_word_ids (LambadaDataset.labels)"], title)
                    }
                    assertSameInts(o["num_correct"], f["num_correct"], title)
                    XCTAssertEqual(o["mask_token"] as? String, f["mask_token"] as? String, title)
                    XCTAssertEqual(o["strict"] as? Bool, f["strict"] as? Bool, title)
                    assertMetrics(o["metrics"], f["metrics"], title)
                } else {
                    for key in ["seq_length", "overlapping_eval", "unidirectional", "max_seq_len (seq_length-1)", "num_sequences_per_document",
                                "num_original_tokens", "num_tokenized_tokens", "documents_token_ids", "total_loss_tokens"] {
                        assertSameInts(o[key], f[key], "\(title): \(key)")
                    }
                    XCTAssertEqual(o["detokenized_text"] as? String, f["detokenized_text"] as? String, title)
                    XCTAssertEqual(o["formula"] as? String, f["formula"] as? String, title)
                    let tokens = Double((f["total_loss_tokens"] as! NSNumber).intValue)
                    XCTAssertEqual((o["total_loss_sum"] as! NSNumber).doubleValue, (f["total_loss_sum"] as! NSNumber).doubleValue,
                                   accuracy: 2e-5 * tokens, title)
                    assertMetrics(o["metrics"], f["metrics"], relative: 1e-5, title)
                }
            }
        }
        XCTAssertGreaterThan(windows, 0)
    }

    // MARK: - seq2seq and ROUGE

    func testEverySeq2SeqFixtureRoundTrips() throws {
        var compared = 0
        for task in ["cnn_dm_original", "cnn_dm", "xsum", "gigaword", "customization", "blank"] {
            let (ours, fixture) = try run("tasks/seq2seq/\(task).json")
            XCTAssertEqual(ours["task"] as? String, task)
            XCTAssertEqual(ours["input_files"] as? [String], fixture["input_files"] as? [String], task)
            let or = ours["runs"] as? [[String: Any]] ?? [], fr = fixture["runs"] as? [[String: Any]] ?? []
            XCTAssertEqual(or.count, fr.count, task)
            for (o, f) in zip(or, fr) {
                let title = S2SFixtures.title(task, f)
                for key in ["src_seq_length", "tgt_seq_length", "task_mask"] { assertSameInts(o[key], f[key], "\(title): \(key)") }
                let os = o["splits"] as? [String: Any] ?? [:], fs = f["splits"] as? [String: Any] ?? [:]
                XCTAssertEqual(Set(os.keys), Set(fs.keys), title)
                for (name, fsplit) in fs {
                    let oi = (os[name] as? [String: Any])?["items"] as? [[String: Any]] ?? []
                    let fi = (fsplit as? [String: Any])?["items"] as? [[String: Any]] ?? []
                    XCTAssertEqual(oi.count, fi.count, "\(title) \(name)")
                    for (i, (a, b)) in zip(oi, fi).enumerated() {
                        let w = "\(title) \(name) item \(i)"
                        XCTAssertEqual(a["example"] as? NSDictionary, b["example"] as? NSDictionary, "\(w): example")
                        let sa = a["sample"] as! [String: Any], sb = (b["sample"] as! [String: Any]).filter { !$0.key.hasPrefix("_") }
                        XCTAssertEqual(Set(sa.keys), Set(sb.keys), "\(w): sample keys")
                        for (k, v) in sb { assertSameInts(sa[k], v, "\(w): sample.\(k)") }
                        compared += 1
                    }
                }
            }
        }
        XCTAssertGreaterThan(compared, 0)
    }

    /// Our `rouge.json` output read back by the ROUGE tests' own decoder and compared with the fixture.
    func testRougeFixtureRoundTrips() throws {
        let data = try Self.runner.runJSON(fixture: try Fixtures.require("tasks/seq2seq/rouge.json"))
        let ours = try JSONDecoder().decode(RougeFixture.self, from: data)
        let expected = try RougeTests.fixture()
        XCTAssertEqual(ours.pairs.map(\.hypothesis), expected.pairs.map(\.hypothesis))
        XCTAssertEqual(ours.pairs.map(\.reference), expected.pairs.map(\.reference))
        XCTAssertEqual(ours.plain.count, expected.plain.count)
        for (k, (a, e)) in zip(ours.plain, expected.plain).enumerated() {
            XCTAssertEqual(a.hypothesis, e.hypothesis); XCTAssertEqual(a.reference, e.reference)
            for (x, y) in [(a.rouge1, e.rouge1), (a.rouge2, e.rouge2), (a.rougeL, e.rougeL), (a.rougeLsum, e.rougeLsum)] {
                XCTAssertEqual(x.precision, y.precision, accuracy: RougeTests.tolerance, "pair \(k)")
                XCTAssertEqual(x.recall, y.recall, accuracy: RougeTests.tolerance, "pair \(k)")
                XCTAssertEqual(x.f1, y.f1, accuracy: RougeTests.tolerance, "pair \(k)")
            }
        }
        XCTAssertEqual(Set(ours.original.keys), Set(expected.original.keys))
        for (mode, e) in expected.original {
            let a = try XCTUnwrap(ours.original[mode], mode)
            XCTAssertEqual(a.rouge1, e.rouge1, accuracy: RougeTests.tolerance, mode)
            XCTAssertEqual(a.rouge2, e.rouge2, accuracy: RougeTests.tolerance, mode)
            XCTAssertEqual(a.rougeL, e.rougeL, accuracy: RougeTests.tolerance, mode)
            XCTAssertEqual(a.lines.map(\.pred), e.lines.map(\.pred), mode)
            XCTAssertEqual(a.lines.map(\.ref), e.lines.map(\.ref), mode)
        }
    }

    // MARK: - flags

    func testFlagsTakeTheLastOccurrence() throws {
        let flags = TaskFlags(["--task", "COPA", "--seq-length", "256", "--pattern-id", "2", "--pattern-id", "0", "--seq-length", "48",
                               "--wsc-negative", "--tokenizer-type", "GPT2BPETokenizer", "--task-mask"])
        let s = try TaskFixtureRunner.superGLUESettings(flags)
        XCTAssertEqual(s, SuperGLUESettings(task: .copa, seqLength: 48, patternId: 0, wscNegative: true, taskMask: true, tokenizer: .glm10B))
        XCTAssertThrowsError(try TaskFixtureRunner.superGLUESettings(TaskFlags(["--task", "copa"])))
        XCTAssertThrowsError(try TaskFixtureRunner(models: "/nonexistent").run(fixture: "/nonexistent/x.json"))
    }
}
