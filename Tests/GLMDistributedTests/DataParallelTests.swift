import Foundation
import GLMTestSupport
import XCTest

/// `mpirun -np 2 glm pretrain --batch-size b` against one `glm pretrain --batch-size 2b`: the same seed and
/// global batches, dropout on (hidden and attention). Every step's loss and the final weights must agree
/// to float32 summation-order noise (measured: 7e-8 relative on the losses).
final class DataParallelTests: XCTestCase {
    static let model = ["--layers", "2", "--hidden", "32", "--heads", "4", "--seq-length", "32", "--steps", "20",
                        "--eval-interval", "0", "--save-interval", "0", "--hidden-dropout", "0.1", "--attention-dropout", "0.1",
                        "--threads", "1", "--seed", "7"]

    func pretrain(_ dir: String, ranks: Int, batch: Int, name: String, extra: [String] = []) throws -> MPIRun.Result {
        let glm = try MPIRun.glm()
        var args = [glm, "pretrain", "--data", "data"] + Self.model + ["--batch-size", "\(batch)", "--log", "\(name).jsonl", "--export", name] + extra
        if ranks > 1 { args = [try MPIRun.mpirun(), "-np", "\(ranks)", "--oversubscribe"] + args }
        let r = try MPIRun.run(args, in: dir, timeout: 300)
        XCTAssertEqual(r.status, 0, r.output)
        return r
    }

    func assertSameRun(_ dir: String, _ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let la = try MPIRun.losses("\(dir)/\(a).jsonl"), lb = try MPIRun.losses("\(dir)/\(b).jsonl")
        XCTAssertEqual(la.count, 20, file: file, line: line)
        XCTAssertEqual(la.map(\.step), lb.map(\.step), file: file, line: line)
        let worstLoss = zip(la, lb).map { abs($0.loss - $1.loss) / abs($1.loss) }.max() ?? .infinity
        XCTAssertLessThan(worstLoss, 1e-5, "losses of \(a) and \(b)", file: file, line: line)
        let wa = try MPIRun.weights("\(dir)/\(a)"), wb = try MPIRun.weights("\(dir)/\(b)")
        var worstWeight: Float = 0
        for (name, x) in wa { for (u, v) in zip(x, wb[name] ?? []) { worstWeight = max(worstWeight, abs(u - v)) } }
        XCTAssertEqual(Set(wa.keys), Set(wb.keys), file: file, line: line)
        XCTAssertLessThan(worstWeight, 1e-5, "final weights of \(a) and \(b)", file: file, line: line)
        print("\(a) vs \(b): largest relative loss difference \(worstLoss), largest weight difference \(worstWeight)")
    }

    func testTwoRanksEqualOneProcessWithTheGlobalBatch() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "dp")
        _ = try MPIRun.preparedData(in: dir)
        try pretrain(dir, ranks: 1, batch: 4, name: "one")
        let two = try pretrain(dir, ranks: 2, batch: 2, name: "two")
        XCTAssertTrue(two.output.contains("data parallel: 2 processes × 2 rows (global batch 4)"), two.output)
        XCTAssertEqual(two.output.components(separatedBy: "20 step(s) in").count, 2, "only rank 0 prints the summary")
        try assertSameRun(dir, "two", "one")
    }

    func testZeroStageOneEqualsOneProcess() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "zero")
        _ = try MPIRun.preparedData(in: dir)
        try pretrain(dir, ranks: 1, batch: 4, name: "one")
        let zero = try pretrain(dir, ranks: 2, batch: 2, name: "zero", extra: ["--zero-stage", "1"])
        XCTAssertTrue(zero.output.contains("ZeRO-1"), zero.output)
        try assertSameRun(dir, "zero", "one")
    }

    /// Gradient accumulation (the overlapped reduction starts only in a step's last backward), the
    /// reduction after the backward pass (`--no-overlap-gradients`), and global batches of another row count
    /// than 2·b (`--short-seq-prob` splits samples into several rows).
    func testAccumulationAndReductionAfterBackwardEqualOneProcess() throws {
        _ = try MPIRun.mpirun()
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "accum")
        _ = try MPIRun.preparedData(in: dir)
        try pretrain(dir, ranks: 1, batch: 4, name: "one", extra: ["--grad-accum", "2", "--short-seq-prob", "0.5", "--seq-length", "64"])
        let overlapped = try pretrain(dir, ranks: 2, batch: 2, name: "overlap", extra: ["--grad-accum", "2", "--short-seq-prob", "0.5", "--seq-length", "64"])
        XCTAssertTrue(overlapped.output.contains("started during the backward pass"), overlapped.output)
        try assertSameRun(dir, "overlap", "one")
        try pretrain(dir, ranks: 2, batch: 2, name: "after", extra: ["--grad-accum", "2", "--short-seq-prob", "0.5", "--seq-length", "64", "--no-overlap-gradients"])
        try assertSameRun(dir, "after", "one")
    }

    /// The same run across two "hosts": network namespaces joined by a veth pair, Open MPI's TCP transport,
    /// the remote launcher pointed at `ip netns exec` (scripts/mpi-two-hosts.sh).
    func testTwoHostsOverVethEqualOneProcess() throws {
        _ = try MPIRun.mpirun()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/mpi-two-hosts.sh").path
        let dir = try ReferenceFixtures.scratchFolder(for: self, prefix: "veth")
        let probe = try MPIRun.run(["/bin/sh", "-c", "command -v ip >/dev/null && ip netns add glmprobe$$ && ip netns del glmprobe$$"], in: dir)
        guard probe.status == 0 else { throw XCTSkip("network namespaces are not available here (needs root and iproute2): \(probe.output)") }
        _ = try MPIRun.preparedData(in: dir)
        try pretrain(dir, ranks: 1, batch: 4, name: "one")
        let glm = try MPIRun.glm()
        let r = try MPIRun.run([script, glm, "pretrain", "--data", dir + "/data"] + Self.model
                               + ["--batch-size", "2", "--log", dir + "/veth.jsonl", "--export", dir + "/veth"], in: dir, timeout: 300)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("over veth"), r.output)
        try assertSameRun(dir, "veth", "one")
    }
}
