// MPI communicators for multi-process training (Open MPI through the CGLMMPI shim).
import CGLMMPI
import Foundation
import GLMEngine
import GLMTraining

/// An MPI failure, with MPI's own text.
public struct MPIError: Error, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public var description: String {
        var text = [CChar](repeating: 0, count: 512)
        glm_mpi_error_string(code, &text, text.count)
        let bytes = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return "MPI \(call) failed: \(String(decoding: bytes, as: UTF8.self)) (code \(code))"
    }
}

/// Element types a collective moves.
public protocol MPIElement { static var mpiType: Int32 { get } }
extension Float: MPIElement { public static var mpiType: Int32 { Int32(GLM_MPI_FLOAT) } }
extension Double: MPIElement { public static var mpiType: Int32 { Int32(GLM_MPI_DOUBLE) } }
extension Int32: MPIElement { public static var mpiType: Int32 { Int32(GLM_MPI_INT32) } }
extension Int64: MPIElement { public static var mpiType: Int32 { Int32(GLM_MPI_INT64) } }

/// A group of processes (an MPI communicator): rank, size, and the collectives training needs.
///
/// `Communicator.world()` is nil in a process that no MPI launcher started: a plain `glm pretrain` never
/// initialises MPI, and behaves exactly as a build without MPI would. Every collective also adds its time
/// and payload to `statistics`, the "time in collectives" of the README's numbers.
public final class Communicator {
    public let handle: Int32
    public let rank: Int
    public let size: Int
    /// Seconds spent inside collectives and bytes they carried (per process, since creation).
    public private(set) var statistics = CollectiveStatistics()

    nonisolated(unsafe) private static var worldCommunicator: Communicator?

    /// The job's world communicator, initialising MPI on first use; nil when not started by an MPI launcher.
    public static func world() throws -> Communicator? {
        if let w = worldCommunicator { return w }
        guard glm_mpi_launched() != 0 else { return nil }
        try check("MPI_Init_thread", glm_mpi_init())
        let w = try Communicator(handle: glm_mpi_world())
        worldCommunicator = w
        atexit { _ = glm_mpi_finalize() }
        return w
    }

    init(handle: Int32) throws {
        self.handle = handle
        var r: Int32 = 0, s: Int32 = 0
        try Self.check("MPI_Comm_rank", glm_mpi_rank(handle, &r))
        try Self.check("MPI_Comm_size", glm_mpi_size(handle, &s))
        rank = Int(r); size = Int(s)
    }

    static func check(_ call: String, _ code: Int32) throws {
        if code != 0 { throw MPIError(call: call, code: code) }
    }

    /// Processes passing the same `color` form one new communicator, ranked by `key`.
    public func split(color: Int, key: Int) throws -> Communicator {
        var out: Int32 = 0
        try Self.check("MPI_Comm_split", glm_mpi_split(handle, Int32(color), Int32(key), &out))
        return try Communicator(handle: out)
    }

    /// The groups of `mpu/initialize.py`: with world size N and model-parallel size M, ranks
    /// [g·M, (g+1)·M) form model-parallel group g (consecutive ranks: one node's accelerators), and the
    /// ranks with the same rank modulo M form a data-parallel group.
    public func parallelGroups(modelParallelSize m: Int) throws -> (dataParallel: Communicator, modelParallel: Communicator) {
        guard m >= 1, size % m == 0 else {
            throw TrainingError.invalidOption("--model-parallel-size \(m) must divide the number of processes (\(size))")
        }
        let modelParallel = try split(color: rank / m, key: rank % m)
        let dataParallel = try split(color: rank % m, key: rank / m)
        return (dataParallel, modelParallel)
    }

    private func timed(_ bytes: Int, _ call: String, _ body: () -> Int32) throws {
        let start = glm_mpi_wtime()
        let rc = body()
        statistics.seconds += glm_mpi_wtime() - start
        statistics.bytes += bytes
        statistics.calls += 1
        try Self.check(call, rc)
    }

    public func barrier() throws { try timed(0, "MPI_Barrier") { glm_mpi_barrier(handle) } }

    /// Rank `root`'s `buffer` is copied into every other rank's.
    public func broadcast<T: MPIElement>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int = 0) throws {
        try timed(buffer.count * MemoryLayout<T>.stride, "MPI_Bcast") {
            glm_mpi_bcast(handle, buffer.baseAddress, buffer.count, T.mpiType, Int32(root))
        }
    }

    /// In-place element-wise reduction over all ranks.
    public func allReduce<T: MPIElement>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation = .sum) throws {
        try timed(buffer.count * MemoryLayout<T>.stride, "MPI_Allreduce") {
            glm_mpi_allreduce(handle, buffer.baseAddress, buffer.count, T.mpiType, op == .sum ? Int32(GLM_MPI_SUM) : Int32(GLM_MPI_MAX))
        }
    }

    /// Starts an in-place all-reduce and returns at once (MPI_Iallreduce); see `PendingCollective`.
    public func startAllReduce<T: MPIElement>(_ buffer: UnsafeMutableBufferPointer<T>, _ op: ReduceOperation = .sum) throws -> PendingAllReduce {
        var request: Int32 = 0
        let start = glm_mpi_wtime()
        let rc = glm_mpi_iallreduce(handle, buffer.baseAddress, buffer.count, T.mpiType,
                                    op == .sum ? Int32(GLM_MPI_SUM) : Int32(GLM_MPI_MAX), &request)
        statistics.seconds += glm_mpi_wtime() - start
        statistics.bytes += buffer.count * MemoryLayout<T>.stride
        statistics.calls += 1
        try Self.check("MPI_Iallreduce", rc)
        return PendingAllReduce(communicator: self, request: request)
    }

    /// Time spent completing non-blocking collectives counts as time in collectives.
    fileprivate func addWait(_ seconds: Double) { statistics.seconds += seconds }

    /// In-place all-gather: rank i contributes `counts[i]` elements at offset Σ counts[..<i].
    public func allGather<T: MPIElement>(_ buffer: UnsafeMutableBufferPointer<T>, counts: [Int]) throws {
        precondition(counts.count == size && counts.reduce(0, +) <= buffer.count)
        let c = counts.map { Int32($0) }
        var displs: [Int32] = [], at: Int32 = 0
        for n in c { displs.append(at); at += n }
        try timed(counts.reduce(0, +) * MemoryLayout<T>.stride, "MPI_Allgatherv") {
            glm_mpi_allgatherv(handle, buffer.baseAddress, c, displs, T.mpiType)
        }
    }

    /// Ends every process of the job (MPI_Abort) after printing `message` to standard error.
    public func abort(_ message: String, code: Int32 = 1) -> Never {
        FileHandle.standardError.write(Data("rank \(rank): \(message)\n".utf8))
        glm_mpi_abort(handle, code)
        exit(code)
    }
}

/// A started MPI_Iallreduce.
public final class PendingAllReduce: PendingCollective {
    let communicator: Communicator
    let request: Int32
    private var done = false

    init(communicator: Communicator, request: Int32) { self.communicator = communicator; self.request = request }

    public func poll() throws -> Bool {
        if done { return true }
        var flag: Int32 = 0
        let start = glm_mpi_wtime()
        let rc = glm_mpi_test(request, &flag)
        communicator.addWait(glm_mpi_wtime() - start)
        try Communicator.check("MPI_Test", rc)
        done = flag != 0
        return done
    }

    public func wait() throws {
        if done { return }
        let start = glm_mpi_wtime()
        let rc = glm_mpi_wait(request)
        communicator.addWait(glm_mpi_wtime() - start)
        done = true
        try Communicator.check("MPI_Wait", rc)
    }
}

/// The data-parallel group of `GLMTraining.DataParallel` is a communicator.
extension Communicator: TrainingCollectives {
    public func allReduceFloats(_ buffer: UnsafeMutableBufferPointer<Float>) throws { try allReduce(buffer, .sum) }
    public func allReduceDoubles(_ buffer: UnsafeMutableBufferPointer<Double>, _ op: ReduceOperation) throws {
        try allReduce(buffer, op)
    }
    public func broadcastFloats(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws { try broadcast(buffer, root: root) }
    public func allGatherFloats(_ buffer: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws {
        try allGather(buffer, counts: counts)
    }
    public func startAllReduceFloats(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingCollective {
        try startAllReduce(buffer, .sum)
    }
}

/// The model-parallel group of tensor model parallelism (`GLMEngine.ModelParallelCollectives`) is a
/// communicator too: the model's forward and backward passes call these.
extension Communicator: ModelParallelCollectives {
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { try allReduce(buffer, .sum) }
    public func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Float>) throws { try allReduce(buffer, .max) }
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws { try allReduce(buffer, .sum) }
}
