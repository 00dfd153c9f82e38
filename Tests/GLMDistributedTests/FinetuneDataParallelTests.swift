import Foundation
import GLMCheckpoint
import GLMTestSupport
import XCTest

/// `mpirun -np 2 glm finetune --batch-size b` against one `glm finetune --batch-size 2b` on the tiny
/// fixture model (its config has no dropout fields: 0.1 embedding, attention and hidden dropout), for a
/// SuperGLUE task (CB) and a seq2seq one (customization). Same seed, same global batches (the last step of
/// each epoch is short: rank 1 has no rows there). Every step's loss, the dev metrics of every epoch and
/// the saved best model must agree to float32 summation-order noise.
final class FinetuneDataParallelTests: XCTestCase {
    static let common = ["--epochs", "2", "--lr", "5e-3", "--warmup", "0", "--seed", "7", "--threads", "1", "--dtype", "fp32"]

    /// Runs `glm finetune` alone (`ranks` 1) or under mpirun, writing `name.jsonl` and the model folder `name`.
    func finetune(_ dir: String, ranks: Int, batch: Int, name: String, task: [String]) throws -> MPIRun.Result {
        let model = try ReferenceFixtures.require("models/glm-tiny-bert")
        var args = [try MPIRun.glm(), "finetune", "--data", "data", "--model", model] + Self.common + task   // task flags win
            + ["--batch-size", "\(batch)", "--log", "\(name).jsonl", "--save", name]
        if ranks > 1 { args = [try MPIRun.mpirun(), "-np", "\(ranks)", "--oversubscribe"] + args }
        let r = try MPIRun.run(args, in: dir, timeout: 300)
        XCTAssertEqual(r.status, 0, r.output)
        return r
    }

    /// The `--log` epoch lines: every numeric field but the train loss and time (the dev metrics), by epoch.
    func devMetrics(_ log: String) throws -> [Int: [String: Double]] {
        var out: [Int: [String: Double]] = [:]
        for line in try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n") {
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  o["event"] as? String == "epoch", let epoch = o["epoch"] as? Int else { continue }
            var m: [String: Double] = [:]
            for (k, v) in o where !["epoch", "train_loss", "seconds"].contains(k) { if let d = v as? Double { m[k] = d } }
            out[epoch] = m
        }
        return out
    }

    func assertSameRun(_ dir: String, _ a: String, _ b: String, steps: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let la = try MPIRun.losses("\(dir)/\(a).jsonl"), lb = try MPIRun.losses("\(dir)/\(b).jsonl")
        XCTAssertEqual(la.count, steps, file: file, line: line)
        XCTAssertEqual(la.map(\.step), lb.map(\.step), file: file, line: line)
        let worstLoss = zip(la, lb).map { abs($0.loss - $1.loss) / abs($1.loss) }.max() ?? .infinity
        XCTAssertLessThan(worstLoss, 1e-5, "losses of \(a) and \(b): \(la.map(\.loss)) vs \(lb.map(\.loss))", file: file, line: line)
        let ma = try devMetrics("\(dir)/\(a).jsonl"), mb = try devMetrics("\(dir)/\(b).jsonl")
        XCTAssertEqual(ma.keys.sorted(), [1, 2], file: file, line: line)
        XCTAssertEqual(ma.keys.sorted(), mb.keys.sorted(), file: file, line: line)
        var worstMetric = 0.0
        for (epoch, m) in ma {
            XCTAssertFalse(m.isEmpty, "epoch \(epoch) has no dev metric", file: file, line: line)
            XCTAssertEqual(Set(m.keys), Set(mb[epoch].map { Array($0.keys) } ?? []), file: file, line: line)
            for (k, v) in m { worstMetric = max(worstMetric, abs(v - (mb[epoch]?[k] ?? .infinity)) / max(abs(v), 1e-3)) }
        }
        XCTAssertLessThan(worstMetric, 1e-5, "dev metrics \(ma) vs \(mb)", file: file, line: line)
        // Absolute, as DataParallelTests: AdamW divides by √v, so a weight whose gradient is rounding noise
        // still moves by about lr, and relative differences of near-zero weights say nothing.
        let wa = try MPIRun.weights("\(dir)/\(a)"), wb = try MPIRun.weights("\(dir)/\(b)")
        XCTAssertEqual(Set(wa.keys), Set(wb.keys), file: file, line: line)
        var worstWeight: Float = 0, worstName = ""
        for (name, x) in wa { for (u, v) in zip(x, wb[name] ?? []) where abs(u - v) > worstWeight { worstWeight = abs(u - v); worstName = name } }
        XCTAssertLessThan(worstWeight, 1e-5, "saved weights of \(a) and \(b) (\(worstName))", file: file, line: line)
        print("finetune \(a) vs \(b): largest relative difference of the step losses \(worstLoss), of the dev metrics \(worstMetric); largest saved weight difference \(worstWeight) (\(worstName)), relative \(MPIRun.largestRelativeDifference(wa, wb))")
    }

    /// A CB task in `dir/data`: 10 train samples (steps of 4, 4 and 2 per epoch at a global batch of 4: the
    /// short one lies on rank 0 only) and 4 dev samples.
    func writeCBData(_ dir: String) throws {
        // 10 train samples: steps of 4, 4 and 2 per epoch (the short one lies on rank 0 only); 4 dev samples.
        let premises = ["It was a complex language handed down by the elders.", "The museum closed its doors in 1998 and never reopened.",
                        "She said the meeting had been moved to the small room.", "A: I don't think so. B: Well, he may come tomorrow.",
                        "The river flooded the valley after a week of rain."]
        let hypotheses = ["the language was written down", "the museum is open", "the meeting was moved", "he will come", "the valley flooded"]
        let labels = ["entailment", "contradiction", "neutral"]
        func lines(_ range: Range<Int>) -> String {
            range.map { i in
                let o: [String: Any] = ["premise": premises[i % 5], "hypothesis": hypotheses[(i * 3 + 1) % 5], "label": labels[i % 3], "idx": i]
                return String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
            }.joined(separator: "\n") + "\n"
        }
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try lines(0..<10).write(toFile: dir + "/data/train.jsonl", atomically: true, encoding: .utf8)
        try lines(10..<14).write(toFile: dir + "/data/val.jsonl", atomically: true, encoding: .utf8)
    }

    static let cb = ["--task", "cb", "--seq-length", "64"]

    func testSuperGLUEOnTwoRanksEqualsOneProcessWithTheGlobalBatch() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "ftdp-cb")
        try writeCBData(dir)
        let task = Self.cb
        let one = try finetune(dir, ranks: 1, batch: 4, name: "one", task: task)
        let two = try finetune(dir, ranks: 2, batch: 2, name: "two", task: task)
        XCTAssertTrue(two.output.contains("data parallel: 2 ranks × --batch-size 2"), two.output)
        XCTAssertEqual(two.output.components(separatedBy: "\"best_epoch\"").count, 2, "only rank 0 prints the result: \(two.output)")
        XCTAssertTrue(one.output.contains("step(s) of 4 sample(s)") && two.output.contains("step(s) of 4 sample(s)"), one.output + two.output)
        try assertSameRun(dir, "two", "one", steps: 6)
        // Gradient accumulation: steps of 2 micro-batches of 2 samples, one sample per rank in each.
        _ = try finetune(dir, ranks: 1, batch: 2, name: "accum-one", task: task + ["--grad-accum", "2"])
        _ = try finetune(dir, ranks: 2, batch: 1, name: "accum-two", task: task + ["--grad-accum", "2"])
        try assertSameRun(dir, "accum-two", "accum-one", steps: 6)
        // ZeRO-1: each rank keeps half of the AdamW moments; the updates are the same numbers.
        let zero = try finetune(dir, ranks: 2, batch: 2, name: "zero-two", task: task + ["--zero-stage", "1"])
        XCTAssertTrue(zero.output.contains("AdamW moments sharded over the ranks (ZeRO-1)"), zero.output)
        try assertSameRun(dir, "zero-two", "one", steps: 6)
    }

    /// P-tuning under mpirun: the prompt encoder (no dropout: one output shared by every row) is broadcast
    /// from rank 0, each rank's rows add their gradients, the sum equals one process's.
    func testContinuousPromptsOnTwoRanksEqualOneProcess() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "ftdp-ptuning")
        try writeCBData(dir)
        let task = Self.cb + ["--continuous-prompt", "--num-prompt-tokens", "2", "--prompt-func", "mlp"]
        _ = try finetune(dir, ranks: 1, batch: 4, name: "one", task: task)
        _ = try finetune(dir, ranks: 2, batch: 2, name: "two", task: task + ["--zero-stage", "1"])
        try assertSameRun(dir, "two", "one", steps: 6)
        let pa = try SafetensorsFile(path: dir + "/one/prompt_spell.safetensors"), pb = try SafetensorsFile(path: dir + "/two/prompt_spell.safetensors")
        let ta = try pa.tensors(), tb = try pb.tensors()
        XCTAssertFalse(ta.isEmpty)
        XCTAssertEqual(ta.map(\.0).sorted(), tb.map(\.0).sorted())
        var worst: Float = 0
        for (name, a) in ta {
            guard let b = tb.first(where: { $0.0 == name })?.1 else { continue }
            let x = a.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }, y = b.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            XCTAssertEqual(x.count, y.count)
            for (u, v) in zip(x, y) { worst = max(worst, abs(u - v)) }
        }
        XCTAssertLessThan(worst, 1e-5, "prompt encoder weights")
        print("p-tuning on 2 ranks (ZeRO-1) vs 1 process: largest prompt-encoder weight difference \(worst)")
    }

    /// A run on 2 ranks with ZeRO-1, stopped by SIGINT to its ranks during epoch 1 (they finish the step and save that
    /// position, inside the epoch), resumed by ONE
    /// process with the same global batch: the whole loss curve and the result equal an uninterrupted
    /// one-process run (the checkpoint holds the full moments, gathered from the shares).
    func testStoppedRunResumesOnAnotherProcessCount() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "ftdp-resume")
        try writeCBData(dir)
        let task = Self.cb + ["--epochs", "6"]
        _ = try finetune(dir, ranks: 1, batch: 4, name: "one", task: task)
        let glm = try MPIRun.glm(), model = try ReferenceFixtures.require("models/glm-tiny-bert")
        let run = ["finetune", "--data", "data", "--model", model] + Self.common + task + ["--log", "two.jsonl", "--save", "two"]
        let stopped = try MPIRun.run([try MPIRun.mpirun(), "-np", "2", "--oversubscribe", glm] + run + ["--batch-size", "2", "--zero-stage", "1"],
                                     in: dir, timeout: 300) { p in
            let begin = Date()
            while Date().timeIntervalSince(begin) < 240, ((try? MPIRun.losses(dir + "/two.jsonl"))?.count ?? 0) < 1 { usleep(20_000) }
            // Ctrl-C on a terminal signals the whole foreground process group: mpirun AND the ranks. (mpirun's
            // own forwarding takes about a second, longer than this tiny run has left.)
            let ranks = Self.children(of: p.processIdentifier)
            XCTAssertEqual(ranks.count, 2, "rank processes of mpirun")
            for r in ranks { kill(r, SIGINT) }
        }
        XCTAssertTrue(stopped.output.contains("finishing this step, then saving and stopping"), stopped.output)
        XCTAssertTrue(stopped.output.contains("continue with the same command plus --resume"), stopped.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/two/model.safetensors"), "a stopped run writes no model")
        let stepAtStop = try Self.checkpointStep(dir + "/two.checkpoint") ?? 0
        XCTAssertGreaterThanOrEqual(stepAtStop, 1)
        XCTAssertLessThan(stepAtStop, 18)
        let resumed = try MPIRun.run([glm] + run + ["--batch-size", "4", "--resume"], in: dir, timeout: 300)
        XCTAssertEqual(resumed.status, 0, resumed.output)
        XCTAssertTrue(resumed.output.contains("resuming after step"), resumed.output)
        let a = try MPIRun.losses(dir + "/two.jsonl"), b = try MPIRun.losses(dir + "/one.jsonl")
        XCTAssertEqual(a.map(\.step), Array(1...18))
        XCTAssertEqual(a.map(\.step), b.map(\.step))
        let worst = zip(a, b).map { abs($0.loss - $1.loss) / abs($1.loss) }.max() ?? .infinity
        XCTAssertLessThan(worst, 1e-5, "\(a.map(\.loss)) vs \(b.map(\.loss))")
        let wa = try MPIRun.weights(dir + "/two"), wb = try MPIRun.weights(dir + "/one")
        var worstWeight: Float = 0
        for (name, x) in wa { for (u, v) in zip(x, wb[name] ?? []) { worstWeight = max(worstWeight, abs(u - v)) } }
        XCTAssertLessThan(worstWeight, 1e-5)
        print("finetune stopped after step \(stepAtStop) on 2 ranks (ZeRO-1), resumed on 1: largest relative loss difference \(worst), weight difference \(worstWeight)")
    }

    /// The processes `mpirun` started (its direct children: the ranks on this host).
    static func children(of pid: Int32) -> [Int32] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int32($0) }
    }

    /// The step a fine-tuning checkpoint folder was saved after.
    static func checkpointStep(_ folder: String) throws -> Int? {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/state.json"))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["step"] as? Int
    }

    func testSeq2SeqOnTwoRanksEqualsOneProcessWithTheGlobalBatch() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "ftdp-s2s")
        // 6 train pairs of different lengths (rows padded to the longest of the GLOBAL micro-batch), 3 dev pairs.
        let sources = ["Translate to French: I like green apples.", "Question: What is the capital of Italy? Answer:",
                       "Summarize: The meeting was postponed because the manager was ill.", "Translate to French: the cat sleeps.",
                       "Question: How many legs has a spider? Answer:", "Summarize: Rain fell all week and the river rose over its banks.",
                       "Translate to French: good morning.", "Question: What colour is the sky? Answer:", "Summarize: The shop opens at nine."]
        let targets = ["J'aime les pommes vertes.", "Rome", "Meeting postponed.", "le chat dort.", "eight", "The river flooded.",
                       "bonjour.", "blue", "Opens at nine."]
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        for (split, range) in [("train", 0..<6), ("val", 6..<9)] {
            try (sources[range].joined(separator: "\n") + "\n").write(toFile: "\(dir)/data/\(split).source", atomically: true, encoding: .utf8)
            try (targets[range].joined(separator: "\n") + "\n").write(toFile: "\(dir)/data/\(split).target", atomically: true, encoding: .utf8)
        }
        let task = ["--task", "customization", "--src-seq-length", "32", "--tgt-seq-length", "16", "--eval-metric", "loss"]
        _ = try finetune(dir, ranks: 1, batch: 4, name: "one", task: task)
        let two = try finetune(dir, ranks: 2, batch: 2, name: "two", task: task)
        XCTAssertTrue(two.output.contains("data parallel: 2 ranks × --batch-size 2"), two.output)
        try assertSameRun(dir, "two", "one", steps: 4)
        _ = try finetune(dir, ranks: 2, batch: 2, name: "zero-two", task: task + ["--zero-stage", "1"])
        try assertSameRun(dir, "zero-two", "one", steps: 4)
    }
}
