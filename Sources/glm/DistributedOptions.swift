import ArgumentParser
import Foundation
import GLMBenchmarks
import GLMDistributed
import GLMEngine
import GLMTraining

/// The flags of multi-process training (`mpirun -np N glm pretrain …`), and the process's place in the job.
struct DistributedOptions: ParsableArguments {
    @Option(help: "Processes per tensor-model-parallel group: each holds 1/M of every layer (the original's mp_rank_XX split; consecutive ranks form a group); the N/M groups train data-parallel. 1: pure data parallelism.")
    var modelParallelSize: Int = 1
    @Option(help: "1: shard the AdamW moments over the data-parallel ranks (ZeRO stage 1); 0: every rank keeps all.")
    var zeroStage: Int = 0
    @Flag(inversion: .prefixedNo, help: "Start each bucket's gradient all-reduce during the backward pass as soon as its gradients are final (--no-overlap-gradients: all after the backward pass).")
    var overlapGradients = true

    func validate() throws {
        if modelParallelSize < 1 { throw ValidationError("--model-parallel-size must be ≥ 1 (got \(modelParallelSize))") }
        if zeroStage != 0 && zeroStage != 1 { throw ValidationError("--zero-stage must be 0 or 1") }
    }

    /// The job this process belongs to (nil without an MPI launcher): its data-parallel group (the
    /// ranks holding the same model partition) and, with --model-parallel-size > 1, its model-parallel group.
    func job() throws -> DistributedJob? {
        guard let world = try Communicator.world() else {
            if modelParallelSize > 1 {
                throw ValidationError("--model-parallel-size \(modelParallelSize) needs \(modelParallelSize) or a multiple of \(modelParallelSize) processes: run under mpirun -np N")
            }
            return nil
        }
        let groups = try world.parallelGroups(modelParallelSize: modelParallelSize)
        let dp = try DataParallel(group: groups.dataParallel, zeroStage: zeroStage, overlap: overlapGradients)
        return DistributedJob(world: world, dataParallel: dp, modelParallel: modelParallelSize > 1 ? groups.modelParallel : nil)
    }
}

/// One process's place in an `mpirun` job.
struct DistributedJob {
    let world: Communicator
    /// The ranks holding the same model partition (all ranks without model parallelism).
    let dataParallel: DataParallel
    /// The ranks that hold one model between them; nil for pure data parallelism.
    let modelParallel: Communicator?

    var isRoot: Bool { world.rank == 0 }

    /// The largest of `value` over every rank of the job.
    func max(_ value: Double) throws -> Double {
        var v = [value]
        try v.withUnsafeMutableBufferPointer { try world.allReduce($0, .max) }
        return v[0]
    }
}

/// Rank 0's GEMM precision on every rank: the bf16 probe's timing may differ per process, and all ranks
/// must compute alike (a sum to which only rank 0 contributes).
func rankZeroCompute(_ mine: GEMMInputType, _ job: DistributedJob?) throws -> GEMMInputType {
    guard let job else { return mine }
    return try job.max(job.isRoot && mine == .bfloat16 ? 1 : 0) > 0.5 ? .bfloat16 : .float32
}

/// Runs `body` as one rank of a job: an error on any rank aborts the whole job (MPI_Abort) with that
/// rank's message instead of leaving the other ranks waiting in a collective forever.
func runAsRank(_ body: () throws -> Void) throws {
    do { try body() } catch {
        if let world = try? Communicator.world(), world.size > 1 { world.abort("\(error)") }
        throw error
    }
}

/// Rank 0's closing line of a data-parallel run: time and bytes in collectives, and peak memory (max over ranks).
func collectiveReport(_ dp: DataParallel, steps: Int) throws -> String {
    let stats = dp.trainingStatistics
    let peak = try dp.max([ModelBenchmark.peakResidentMegabytes()])[0]
    let n = Double(max(steps, 1))
    let overlap = dp.overlapCounts
    return String(format: "collectives: %.1f ms and %.2f MB per step on rank 0 (%d calls in all; the start's parameter broadcast excluded; %d of %d gradient buckets started during the backward pass); peak memory per rank (max over %d ranks) %.0f MiB",
                  stats.seconds / n * 1000, Double(stats.bytes) / n / 1e6, stats.calls, overlap.duringBackward, overlap.all, dp.size, peak)
}

/// The closing line of a job: the data-parallel report, with model parallelism also the model-parallel
/// group's collectives (rank 0's, since its start) and peak memory over every rank of the job.
func collectiveReport(_ job: DistributedJob, steps: Int) throws -> String {
    guard let mp = job.modelParallel else { return try collectiveReport(job.dataParallel, steps: steps) }
    let dp = job.dataParallel, stats = dp.trainingStatistics, m = mp.statistics
    let peak = try job.max(ModelBenchmark.peakResidentMegabytes())
    let n = Double(max(steps, 1))
    return String(format: "collectives per step on rank 0: data parallel (%d ranks) %.1f ms and %.2f MB, model parallel (%d ranks) %.1f ms and %.2f MB in %d calls (activation sums of every layer, forward and backward; parameter partitioning and checkpoints included); peak memory per rank (max over %d ranks) %.0f MiB",
                  dp.size, stats.seconds / n * 1000, Double(stats.bytes) / n / 1e6, mp.size, m.seconds / n * 1000,
                  Double(m.bytes) / n / 1e6, m.calls / max(steps, 1), job.world.size, peak)
}
