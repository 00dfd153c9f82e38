import Foundation
import GLMCheckpoint
import GLMTestSupport
import GLMTraining
import XCTest

/// `mpirun … glm pretrain --model-parallel-size M` against one process with the same global batch, seed
/// and dropout (hidden and attention): every step's loss and the final weights must agree to float32
/// summation-order noise (the measured differences are printed). Also the model-parallel checkpoints:
/// merged they equal the one-process checkpoint, and a run resumes across model-parallel sizes.
///
/// fp32 products (`--dtype fp32`): WHY — a row-parallel layer splits each product's inner dimension over
/// the ranks, and with bf16 products (`auto` on an AVX512_BF16 CPU) oneDNN's bf16 kernels round partial
/// sums differently per block, which AdamW amplifies where gradients are near zero. Measured (2 vCPUs, Zen 4):
/// fp32 — every loss identical, weights within 2.3e-8 after 20 steps; bf16 — losses 5.9e-6 relative,
/// weights 2.1e-5 (data parallelism only splits the weight gradients' inner dimension: 7e-8 at 20 steps in
/// bf16 too, 7.7e-6 after 127).
final class TensorParallelTests: XCTestCase {
    static let model = ["--layers", "2", "--hidden", "32", "--heads", "4", "--seq-length", "32", "--lr-decay-iters", "20",
                        "--eval-interval", "0", "--save-interval", "0", "--hidden-dropout", "0.1", "--attention-dropout", "0.1",
                        "--threads", "1", "--seed", "7", "--dtype", "fp32"]

    @discardableResult
    func pretrain(_ dir: String, ranks: Int, modelParallel: Int = 1, batch: Int, name: String, steps: Int = 20,
                  extra: [String] = []) throws -> MPIRun.Result {
        let glm = try MPIRun.glm()
        var args = [glm, "pretrain", "--data", "data"] + Self.model + ["--steps", "\(steps)", "--batch-size", "\(batch)",
                                                                      "--log", "\(name).jsonl"] + extra
        if !extra.contains("--resume") { args += ["--export", name] }
        if modelParallel > 1 { args += ["--model-parallel-size", "\(modelParallel)"] }
        if ranks > 1 { args = [try MPIRun.mpirun(), "-np", "\(ranks)", "--oversubscribe"] + args }
        let r = try MPIRun.run(args, in: dir, timeout: 400)
        XCTAssertEqual(r.status, 0, r.output)
        return r
    }

    /// Losses of steps `steps` in two logs within 1e-5 relative; returns the largest relative difference.
    func compareLosses(_ a: String, _ b: String, steps: ClosedRange<Int>, file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        let la = try MPIRun.losses(a).filter { steps.contains($0.step) }, lb = try MPIRun.losses(b).filter { steps.contains($0.step) }
        XCTAssertEqual(la.map(\.step), Array(steps), file: file, line: line)
        XCTAssertEqual(lb.map(\.step), Array(steps), file: file, line: line)
        let worst = zip(la, lb).map { abs($0.loss - $1.loss) / abs($1.loss) }.max() ?? .infinity
        XCTAssertLessThan(worst, 1e-5, "losses of \(a) and \(b)", file: file, line: line)
        return worst
    }

    /// Largest absolute difference between two exported models (same tensor names required).
    func weightDifference(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws -> Float {
        let wa = try MPIRun.weights(a), wb = try MPIRun.weights(b)
        XCTAssertEqual(Set(wa.keys), Set(wb.keys), file: file, line: line)
        var worst: Float = 0
        for (name, x) in wa {
            let y = wb[name] ?? []
            XCTAssertEqual(x.count, y.count, name, file: file, line: line)
            for (u, v) in zip(x, y) { worst = max(worst, abs(u - v)) }
        }
        XCTAssertLessThan(worst, 1e-5, "final weights of \(a) and \(b)", file: file, line: line)
        return worst
    }

    func testTwoModelParallelRanksEqualOneProcess() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "tp")
        _ = try MPIRun.preparedData(in: dir)
        try pretrain(dir, ranks: 1, batch: 4, name: "one")
        let tp = try pretrain(dir, ranks: 2, modelParallel: 2, batch: 4, name: "tp")
        XCTAssertTrue(tp.output.contains("tensor model parallel: 2 ranks per model"), tp.output)
        XCTAssertTrue(tp.output.contains("data parallel: 1 processes × 4 rows (global batch 4)"), tp.output)
        XCTAssertEqual(tp.output.components(separatedBy: "20 step(s) in").count, 2, "only global rank 0 prints the summary")
        let loss = try compareLosses("\(dir)/tp.jsonl", "\(dir)/one.jsonl", steps: 1...20)
        let weight = try weightDifference("\(dir)/tp", "\(dir)/one")
        print("[tensor parallel] TP=2 vs one process: largest relative loss difference \(loss), largest weight difference \(weight)")
    }

    /// 4 ranks: two data-parallel groups of two model-parallel ranks, with and without ZeRO-1.
    func testDataTimesModelParallelOnFourRanksEqualsOneProcess() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "dptp")
        _ = try MPIRun.preparedData(in: dir)
        try pretrain(dir, ranks: 1, batch: 4, name: "one")
        let both = try pretrain(dir, ranks: 4, modelParallel: 2, batch: 2, name: "dptp")
        XCTAssertTrue(both.output.contains("data parallel: 2 processes × 2 rows (global batch 4)"), both.output)
        var loss = try compareLosses("\(dir)/dptp.jsonl", "\(dir)/one.jsonl", steps: 1...20)
        var weight = try weightDifference("\(dir)/dptp", "\(dir)/one")
        print("[tensor parallel] DP=2 × TP=2 vs one process: largest relative loss difference \(loss), largest weight difference \(weight)")
        try pretrain(dir, ranks: 4, modelParallel: 2, batch: 2, name: "zero", extra: ["--zero-stage", "1"])
        loss = try compareLosses("\(dir)/zero.jsonl", "\(dir)/one.jsonl", steps: 1...20)
        weight = try weightDifference("\(dir)/zero", "\(dir)/one")
        print("[tensor parallel] DP=2 × TP=2 with ZeRO-1 vs one process: largest relative loss difference \(loss), largest weight difference \(weight)")
    }

    /// A checkpoint written at TP=2 is the original's mp_rank_XX layout: merged (weights and AdamW moments)
    /// it equals the one-process checkpoint of the same step, `glm convert` reads it, and it resumes at
    /// TP=2 and on ONE process; a one-process checkpoint resumes at TP=2. All continue the one-process curve.
    func testModelParallelCheckpointsMergeAndResumeAcrossSizes() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "tpckpt")
        _ = try MPIRun.preparedData(in: dir)
        try pretrain(dir, ranks: 1, batch: 4, name: "one")
        try pretrain(dir, ranks: 1, batch: 4, name: "one10", steps: 10, extra: ["--save", "one-save"])
        try pretrain(dir, ranks: 2, modelParallel: 2, batch: 4, name: "tp10", steps: 10, extra: ["--save", "tp-save"])

        let folder = "\(dir)/tp-save/step-00000010"
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
        for file in ["mp_rank_00_model_states.pt", "mp_rank_01_model_states.pt", "mp_rank_00_optimizer.safetensors",
                     "mp_rank_01_optimizer.safetensors", "trainer_state.json", "config.json"] {
            XCTAssertTrue(names.contains(file), "\(file) in \(names)")
        }
        let merged = try CheckpointStore.load(folder: folder), single = try CheckpointStore.load(folder: "\(dir)/one-save/step-00000010")
        XCTAssertEqual(merged.state.modelParallelSize, 2)
        XCTAssertEqual(merged.state.step, 10)
        var worst: Float = 0
        for (i, p) in single.model.parameters.enumerated() {
            let q = merged.model.parameters[i]
            XCTAssertEqual(p.name, q.name); XCTAssertEqual(p.shape, q.shape)
            for (a, b) in [(p.value, q.value), (single.expAvg[i], merged.expAvg[i]), (single.expAvgSq[i], merged.expAvgSq[i])] {
                for (u, v) in zip(a.toFloats(), b.toFloats()) { worst = max(worst, abs(u - v)) }
            }
        }
        print("[tensor parallel] TP=2 checkpoint merged vs one-process checkpoint: largest difference (weights and moments) \(worst)")
        XCTAssertLessThan(worst, 1e-5)
        let convert = try MPIRun.run([try MPIRun.glm(), "convert", folder, "converted"], in: dir)
        XCTAssertEqual(convert.status, 0, convert.output)
        let converted = try MPIRun.weights("\(dir)/converted")
        XCTAssertEqual(converted["word_embeddings.weight"]?.count, single.model.word_embeddings.weight.value.count, "merged vocabulary")

        // M=2 → M=2, M=2 → M=1, and M=1 → M=2: steps 11…20 continue the uninterrupted one-process run.
        try FileManager.default.copyItem(atPath: "\(dir)/tp-save", toPath: "\(dir)/tp-save-2")
        try FileManager.default.copyItem(atPath: "\(dir)/tp10.jsonl", toPath: "\(dir)/tp10-2.jsonl")
        try pretrain(dir, ranks: 2, modelParallel: 2, batch: 4, name: "tp10-2", extra: ["--save", "tp-save-2", "--resume", "--export", "tp-to-tp"])
        let same = try compareLosses("\(dir)/tp10-2.jsonl", "\(dir)/one.jsonl", steps: 11...20)
        print("[tensor parallel] resumed TP=2 → 2: loss \(same), weights \(try weightDifference("\(dir)/tp-to-tp", "\(dir)/one"))")
        try pretrain(dir, ranks: 1, batch: 4, name: "tp10", extra: ["--save", "tp-save", "--resume", "--export", "tp-to-one"])
        try pretrain(dir, ranks: 2, modelParallel: 2, batch: 4, name: "one10", extra: ["--save", "one-save", "--resume", "--export", "one-to-tp"])
        let a = try compareLosses("\(dir)/tp10.jsonl", "\(dir)/one.jsonl", steps: 11...20)
        let b = try compareLosses("\(dir)/one10.jsonl", "\(dir)/one.jsonl", steps: 11...20)
        let wa = try weightDifference("\(dir)/tp-to-one", "\(dir)/one"), wb = try weightDifference("\(dir)/one-to-tp", "\(dir)/one")
        print("[tensor parallel] resumed TP=2 → 1: loss \(a), weights \(wa); resumed 1 → TP=2: loss \(b), weights \(wb)")
    }

    /// Without mpirun --model-parallel-size > 1 is a clear error (pretrain and finetune alike).
    func testModelParallelIsRefusedWhereItCannotRun() throws {
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "tprefuse")
        let glm = try MPIRun.glm()
        let alone = try MPIRun.run([glm, "pretrain", "--layers", "2", "--hidden", "32", "--heads", "4", "--steps", "1",
                                    "--data", "missing", "--model-parallel-size", "2"], in: dir, timeout: 60)
        XCTAssertNotEqual(alone.status, 0)
        XCTAssertTrue(alone.output.contains("--model-parallel-size 2 needs 2 or a multiple of 2 processes: run under mpirun"), alone.output)
        let finetune = try MPIRun.run([glm, "finetune", "--task", "copa", "--data", "missing", "--save", "out",
                                       "--model-parallel-size", "2"], in: dir, timeout: 60)
        XCTAssertNotEqual(finetune.status, 0)
        XCTAssertTrue(finetune.output.contains("--model-parallel-size 2 needs 2 or a multiple of 2 processes: run under mpirun"), finetune.output)
    }
}
