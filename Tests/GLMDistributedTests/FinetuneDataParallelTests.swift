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
        let r = try assertStoppedRunResumesLikeOne(dir, task: task, steps: 18, stopped: ["-np", "2"], stoppedFlags: ["--batch-size", "2", "--zero-stage", "1"],
                                                   resumed: [], resumedFlags: ["--batch-size", "4"])
        print("finetune stopped after step \(r.stepAtStop) on 2 ranks (ZeRO-1), resumed on 1: largest relative loss difference \(r.loss), weight difference \(r.weight)")
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
