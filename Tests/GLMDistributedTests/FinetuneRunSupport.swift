import Foundation
import GLMTestSupport
import XCTest

/// The flags every fine-tuning comparison run shares (2 epochs, fp32 products, one thread per rank).
enum FinetuneRuns {
    static let common = ["--epochs", "2", "--lr", "5e-3", "--warmup", "0", "--seed", "7", "--threads", "1", "--dtype", "fp32"]
}

/// Running `glm finetune` alone or under mpirun and comparing two runs (FinetuneDataParallelTests,
/// FinetuneTensorParallelTests), and the rank processes of an `mpirun` (also FaultTests).
extension XCTestCase {
    /// Runs `glm finetune` alone (`ranks` 1) or under mpirun, writing `name.jsonl` and the model folder `name`.
    func finetune(_ dir: String, ranks: Int, batch: Int, name: String, task: [String]) throws -> MPIRun.Result {
        let model = try ReferenceFixtures.require("models/glm-tiny-bert")
        var args = [try MPIRun.glm(), "finetune", "--data", "data", "--model", model] + FinetuneRuns.common + task   // task flags win
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

    func assertSameFinetune(_ dir: String, _ a: String, _ b: String, steps: Int, file: StaticString = #filePath, line: UInt = #line) throws {
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

    /// A customization (seq2seq) task in `dir/data`: 6 train pairs of different lengths (rows padded to the
    /// longest of the GLOBAL micro-batch), 3 dev pairs.
    func writeSeq2SeqData(_ dir: String) throws {
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
    }

    /// `glm finetune` of `task` launched by `mpirun` + `stopped` + `stoppedFlags`, stopped by SIGINT to its ranks once
    /// its first step is logged (they finish the step and save that position, inside the epoch), then resumed
    /// with `--resume` (under `mpirun` + `resumed`, or alone when `resumed` is empty) + `resumedFlags`: the
    /// whole loss curve (`steps` steps) and the saved model must equal `dir/one`, an uninterrupted run.
    func assertStoppedRunResumesLikeOne(_ dir: String, task: [String], steps: Int, stopped: [String], stoppedFlags: [String],
                                        resumed: [String], resumedFlags: [String], file: StaticString = #filePath, line: UInt = #line)
        throws -> (stepAtStop: Int, loss: Double, weight: Float) {
        let glm = try MPIRun.glm(), model = try ReferenceFixtures.require("models/glm-tiny-bert"), mpirun = try MPIRun.mpirun()
        let run = ["finetune", "--data", "data", "--model", model] + FinetuneRuns.common + task + ["--log", "two.jsonl", "--save", "two"]
        let ranks = Int(stopped[stopped.firstIndex(of: "-np")! + 1])!
        for leftover in ["two", "two.jsonl", "two.checkpoint"] { try? FileManager.default.removeItem(atPath: dir + "/" + leftover) }
        let stop = try MPIRun.run([mpirun] + stopped + ["--oversubscribe", glm] + run + stoppedFlags, in: dir, timeout: 300) { p in
            let begin = Date()
            while Date().timeIntervalSince(begin) < 240, ((try? MPIRun.losses(dir + "/two.jsonl"))?.count ?? 0) < 1 { usleep(20_000) }
            // Ctrl-C on a terminal signals the whole foreground process group: mpirun AND the ranks. (mpirun's
            // own forwarding takes about a second, longer than this tiny run has left.)
            let children = self.children(of: p.processIdentifier)
            XCTAssertEqual(children.count, ranks, "rank processes of mpirun", file: file, line: line)
            for r in children { kill(r, SIGINT) }
        }
        XCTAssertTrue(stop.output.contains("finishing this step, then saving and stopping"), stop.output, file: file, line: line)
        XCTAssertTrue(stop.output.contains("continue with the same command plus --resume"), stop.output, file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/two/model.safetensors"), "a stopped run writes no model", file: file, line: line)
        let stepAtStop = try Self.checkpointStep(dir + "/two.checkpoint") ?? 0
        XCTAssertGreaterThanOrEqual(stepAtStop, 1, file: file, line: line)
        XCTAssertLessThan(stepAtStop, steps, file: file, line: line)
        let launcher = resumed.isEmpty ? [glm] : [mpirun] + resumed + ["--oversubscribe", glm]
        let resume = try MPIRun.run(launcher + run + resumedFlags + ["--resume"], in: dir, timeout: 300)
        XCTAssertEqual(resume.status, 0, resume.output, file: file, line: line)
        XCTAssertTrue(resume.output.contains("resuming after step"), resume.output, file: file, line: line)
        let a = try MPIRun.losses(dir + "/two.jsonl"), b = try MPIRun.losses(dir + "/one.jsonl")
        XCTAssertEqual(a.map(\.step), Array(1...steps), file: file, line: line)
        XCTAssertEqual(a.map(\.step), b.map(\.step), file: file, line: line)
        let worst = zip(a, b).map { abs($0.loss - $1.loss) / abs($1.loss) }.max() ?? .infinity
        XCTAssertLessThan(worst, 1e-5, "\(a.map(\.loss)) vs \(b.map(\.loss))", file: file, line: line)
        let wa = try MPIRun.weights(dir + "/two"), wb = try MPIRun.weights(dir + "/one")
        var worstWeight: Float = 0
        for (name, x) in wa { for (u, v) in zip(x, wb[name] ?? []) { worstWeight = max(worstWeight, abs(u - v)) } }
        XCTAssertLessThan(worstWeight, 1e-5, file: file, line: line)
        return (stepAtStop, worst, worstWeight)
    }

    /// The step a fine-tuning checkpoint folder was saved after.
    static func checkpointStep(_ folder: String) throws -> Int? {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/state.json"))
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["step"] as? Int
    }

    /// The processes `mpirun` started (its direct children: the ranks on this host).
    func children(of pid: Int32) -> [Int32] {
        var text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
        if text.isEmpty {   // kernels without /proc/…/children: ask pgrep
            text = (try? MPIRun.run(["/usr/bin/env", "pgrep", "-P", "\(pid)"], in: NSTemporaryDirectory(), timeout: 10).output) ?? ""
        }
        return text.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int32($0) }
    }
}
