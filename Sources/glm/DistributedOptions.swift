import ArgumentParser
import Foundation
import GLMBenchmarks
import GLMDistributed
import GLMEngine
import GLMTraining

/// The flags of multi-process training (`mpirun -np N glm pretrain …`), and the process's place in the job.
struct DistributedOptions: ParsableArguments {
    @Option(help: "Processes per tensor-model-parallel group (only 1 is implemented: pure data parallelism).")
    var modelParallelSize: Int = 1
    @Option(help: "1: shard the AdamW moments over the data-parallel ranks (ZeRO stage 1); 0: every rank keeps all.")
    var zeroStage: Int = 0
    @Flag(inversion: .prefixedNo, help: "Start each bucket's gradient all-reduce during the backward pass as soon as its gradients are final (--no-overlap-gradients: all after the backward pass).")
    var overlapGradients = true

    func validate() throws {
        if modelParallelSize != 1 {
            throw ValidationError("--model-parallel-size \(modelParallelSize): tensor model parallelism is not implemented yet; use 1 (data parallelism over all processes)")
        }
        if zeroStage != 0 && zeroStage != 1 { throw ValidationError("--zero-stage must be 0 or 1") }
    }

    /// The job this process belongs to: nil without an MPI launcher (a plain one-process run).
    func dataParallel() throws -> DataParallel? {
        guard let world = try Communicator.world() else { return nil }
        let groups = try world.parallelGroups(modelParallelSize: modelParallelSize)
        return try DataParallel(group: groups.dataParallel, zeroStage: zeroStage, overlap: overlapGradients)
    }
}

/// Rank 0's GEMM precision on every rank: the bf16 probe's timing may differ per process, and all ranks
/// must compute alike (a sum to which only rank 0 contributes).
func rankZeroCompute(_ mine: GEMMInputType, _ dp: DataParallel?) throws -> GEMMInputType {
    guard let dp else { return mine }
    return try dp.sum([dp.rank == 0 && mine == .bfloat16 ? 1 : 0])[0] > 0.5 ? .bfloat16 : .float32
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
