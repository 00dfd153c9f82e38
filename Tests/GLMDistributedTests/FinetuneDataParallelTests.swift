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
        try assertSameFinetune(dir, "two", "one", steps: 6)
        // Gradient accumulation: steps of 2 micro-batches of 2 samples, one sample per rank in each.
        _ = try finetune(dir, ranks: 1, batch: 2, name: "accum-one", task: task + ["--grad-accum", "2"])
        _ = try finetune(dir, ranks: 2, batch: 1, name: "accum-two", task: task + ["--grad-accum", "2"])
        try assertSameFinetune(dir, "accum-two", "accum-one", steps: 6)
        // ZeRO-1: each rank keeps half of the AdamW moments; the updates are the same numbers.
        let zero = try finetune(dir, ranks: 2, batch: 2, name: "zero-two", task: task + ["--zero-stage", "1"])
        XCTAssertTrue(zero.output.contains("AdamW moments sharded over the ranks (ZeRO-1)"), zero.output)
        try assertSameFinetune(dir, "zero-two", "one", steps: 6)
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
        try assertSameFinetune(dir, "two", "one", steps: 6)
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
        let run = ["finetune", "--data", "data", "--model", model] + FinetuneRuns.common + task + ["--log", "two.jsonl", "--save", "two"]
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
        try writeSeq2SeqData(dir)
        let task = ["--task", "customization", "--src-seq-length", "32", "--tgt-seq-length", "16", "--eval-metric", "loss"]
        _ = try finetune(dir, ranks: 1, batch: 4, name: "one", task: task)
        let two = try finetune(dir, ranks: 2, batch: 2, name: "two", task: task)
        XCTAssertTrue(two.output.contains("data parallel: 2 ranks × --batch-size 2"), two.output)
        try assertSameFinetune(dir, "two", "one", steps: 4)
        _ = try finetune(dir, ranks: 2, batch: 2, name: "zero-two", task: task + ["--zero-stage", "1"])
        try assertSameFinetune(dir, "zero-two", "one", steps: 4)
    }
}
