import Foundation
import GLMTestSupport
import XCTest

/// `mpirun -np N glm finetune --model-parallel-size 2` against one process with the same global batch on
/// the tiny fixture model (dropout 0.1 everywhere: the attention masks of each rank's heads are drawn where
/// one process draws them). The vocabulary is split over the ranks, so the cloze scores and the seq2seq
/// cross-entropy are assembled from both ranks' logit columns. Every step's loss, the dev metrics of every
/// epoch and the saved (merged) model must agree to float32 summation-order noise. fp32 products, as
/// TensorParallelTests explains (bf16 partial sums of row-parallel layers round differently).
final class FinetuneTensorParallelTests: XCTestCase {
    static let tp = ["--model-parallel-size", "2"]

    /// `task` on one process and on 2 model-parallel ranks, batch 4 each (runs `prefix`one, `prefix`tp):
    /// the same losses, dev metrics and saved model.
    @discardableResult
    func assertTwoModelParallelRanksEqualOne(_ dir: String, task: [String], steps: Int, prefix: String = "") throws -> MPIRun.Result {
        _ = try finetune(dir, ranks: 1, batch: 4, name: prefix + "one", task: task)
        let tp = try finetune(dir, ranks: 2, batch: 4, name: prefix + "tp", task: task + Self.tp)
        try assertSameFinetune(dir, prefix + "tp", prefix + "one", steps: steps)
        return tp
    }

    /// CB (single-token cloze): TP=2 on 2 ranks, then DP=2 × TP=2 on 4 ranks with ZeRO-1.
    func testSuperGLUEWithTwoModelParallelRanksEqualsOneProcess() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "fttp-cb")
        try writeCBData(dir)
        let task = ["--task", "cb", "--seq-length", "64"]
        let tp = try assertTwoModelParallelRanksEqualOne(dir, task: task, steps: 6)
        XCTAssertTrue(tp.output.contains("tensor model parallel: 2 ranks per model"), tp.output)
        XCTAssertEqual(tp.output.components(separatedBy: "\"best_epoch\"").count, 2, "only global rank 0 prints the result: \(tp.output)")
        let both = try finetune(dir, ranks: 4, batch: 2, name: "dptp", task: task + Self.tp + ["--zero-stage", "1"])
        XCTAssertTrue(both.output.contains("data parallel: 2 ranks × --batch-size 2, AdamW moments sharded"), both.output)
        try assertSameFinetune(dir, "dptp", "one", steps: 6)
    }

    /// COPA (multi-token cloze: every choice a row, scored by the log-softmax of its answer tokens over the
    /// split vocabulary), TP=2: 10 train questions (20 samples with the mirrored ones), 4 dev.
    func testMultiTokenClozeWithTwoModelParallelRanksEqualsOneProcess() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "fttp-copa")
        let premises = ["The man broke his toe.", "I tipped the bottle.", "The woman found a wallet.", "The sun went down.", "The girl ran fast."]
        let choices = [("He dropped a hammer on his foot.", "He got a hole in his sock."), ("The liquid in the bottle froze.", "The liquid poured out."),
                       ("She returned it to its owner.", "She bought a new car."), ("It became dark.", "The birds sang."),
                       ("She won the race.", "She lost her shoes.")]
        func lines(_ range: Range<Int>) -> String {
            range.map { i in
                let o: [String: Any] = ["premise": premises[i % 5], "choice1": choices[i % 5].0, "choice2": choices[i % 5].1,
                                        "question": i % 2 == 0 ? "cause" : "effect", "label": (i / 5) % 2, "idx": i]
                return String(decoding: try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]), as: UTF8.self)
            }.joined(separator: "\n") + "\n"
        }
        try FileManager.default.createDirectory(atPath: dir + "/data", withIntermediateDirectories: true)
        try lines(0..<10).write(toFile: dir + "/data/train.jsonl", atomically: true, encoding: .utf8)
        try lines(10..<14).write(toFile: dir + "/data/val.jsonl", atomically: true, encoding: .utf8)
        try assertTwoModelParallelRanksEqualOne(dir, task: ["--task", "copa", "--seq-length", "64"], steps: 10)
    }

    /// Seq2seq (label-smoothed cross-entropy over the split vocabulary), dev loss and dev ROUGE (beam
    /// search on the merged model).
    func testSeq2SeqWithTwoModelParallelRanksEqualsOneProcess() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "fttp-s2s")
        try writeSeq2SeqData(dir)
        let seq2seq = ["--task", "customization", "--src-seq-length", "32"]
        try assertTwoModelParallelRanksEqualOne(dir, task: seq2seq + ["--tgt-seq-length", "16", "--eval-metric", "loss"], steps: 4)
        try assertTwoModelParallelRanksEqualOne(dir, task: seq2seq + ["--tgt-seq-length", "8", "--eval-metric", "rouge", "--num-beams", "2"],
                                                steps: 4, prefix: "rouge-")
    }

    /// A TP=2 run stopped by SIGINT inside epoch 1 resumes on ONE process, and a copy of its checkpoint at
    /// DP=2 × TP=2 with ZeRO-1 (the checkpoint holds the whole model and moments): both continue the
    /// uninterrupted one-process curve.
    func testStoppedModelParallelRunResumesAtAnotherModelParallelSize() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "fttp-resume")
        try writeCBData(dir)
        let task = ["--task", "cb", "--seq-length", "64", "--epochs", "6"]
        _ = try finetune(dir, ranks: 1, batch: 4, name: "one", task: task)
        let r = try assertStoppedRunResumesLikeOne(dir, task: task, steps: 18, stopped: ["-np", "2"], stoppedFlags: ["--batch-size", "4"] + Self.tp,
                                                   resumed: [], resumedFlags: ["--batch-size", "4"])
        print("finetune stopped after step \(r.stepAtStop) at TP=2, resumed on 1 process: largest relative loss difference \(r.loss), weight difference \(r.weight)")
        let back = try assertStoppedRunResumesLikeOne(dir, task: task, steps: 18, stopped: ["-np", "2"], stoppedFlags: ["--batch-size", "2"],
                                                      resumed: ["-np", "4"], resumedFlags: ["--batch-size", "2", "--zero-stage", "1"] + Self.tp)
        print("finetune stopped after step \(back.stepAtStop) on 2 data-parallel ranks, resumed at DP=2 × TP=2 (ZeRO-1): largest relative loss difference \(back.loss), weight difference \(back.weight)")
    }

    /// Where tensor model parallelism still cannot run, the error names the combination.
    func testContinuousPromptsAreRefusedWithModelParallelism() throws {
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "fttp-refuse")
        try writeCBData(dir)
        let model = try ReferenceFixtures.require("models/glm-tiny-bert")
        let r = try MPIRun.run([try MPIRun.mpirun(), "-np", "2", "--oversubscribe", try MPIRun.glm(), "finetune", "--task", "cb", "--data", "data",
                                "--model", model, "--save", "out", "--continuous-prompt", "--num-prompt-tokens", "2"] + Self.tp, in: dir, timeout: 120)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("continuous prompts (--continuous-prompt, --prefix-prompt, --freeze-transformer) are not supported with tensor model parallelism"), r.output)
    }
}
