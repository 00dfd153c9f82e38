// What data-parallel training needs from a process group. GLMTraining knows no MPI: the `glm` tool
// hands in GLMDistributed's MPI communicator, so the SwiftGLM library links no MPI.

/// Reductions of `TrainingCollectives`.
public enum ReduceOperation: Sendable { case sum, max }

/// Time and payload of the collectives one process took part in.
public struct CollectiveStatistics: Sendable, Equatable {
    public var seconds = 0.0
    public var bytes = 0
    public var calls = 0
    public init() {}
}

/// A group of processes training one model together (the data-parallel group). Every call is collective:
/// all ranks make it, in the same order, with the same counts.
public protocol TrainingCollectives: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    var statistics: CollectiveStatistics { get }
    /// In-place sum over all ranks.
    func allReduceFloats(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    func allReduceDoubles(_ buffer: UnsafeMutableBufferPointer<Double>, _ op: ReduceOperation) throws
    /// Rank `root`'s buffer replaces everyone's.
    func broadcastFloats(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// In place: rank i's `counts[i]` elements start at Σ counts[..<i]; afterwards every rank has all of them.
    func allGatherFloats(_ buffer: UnsafeMutableBufferPointer<Float>, counts: [Int]) throws
    func barrier() throws
    /// Starts an in-place sum of `buffer` over all ranks and returns at once; the buffer must stay untouched
    /// until the returned operation completes. Every rank starts the same sums in the same order.
    func startAllReduceFloats(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingCollective
}

/// A started non-blocking collective.
public protocol PendingCollective: AnyObject {
    /// true once complete (each call also lets the transport make progress).
    func poll() throws -> Bool
    /// Blocks until complete.
    func wait() throws
}
