// Tensor model parallelism (Megatron/GLM `mpu`): what the engine needs from a group of processes that
// hold one model between them. The engine knows no MPI: the `glm` tool hands in GLMDistributed's MPI
// communicator (which conforms), and unit tests an in-process group of threads.
import CGLMKernels

/// The processes of one model-parallel group. Every call is collective: all ranks of the group make
/// it, in the same order, with the same counts (the forward and backward passes of the model do).
public protocol ModelParallelCollectives: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// In-place element-wise sum over the group's ranks.
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// In-place element-wise maximum over the group's ranks.
    func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// In-place sum of float64 values (gradient norms: summed in float64 as one process does).
    func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
}

/// Which of a layer's attention heads a call computes: heads `first ..< first + n` of `total`.
/// Tensor model parallelism gives each rank a contiguous slice of the heads; dropout uses the slice to
/// draw each head's mask exactly where the one-process run draws it.
public struct HeadSlice: Sendable, Equatable {
    public let first: Int
    public let total: Int
    public init(first: Int, total: Int) { self.first = first; self.total = total }
}

/// The contiguous part `rank` holds of `total` rows split `size` ways (`total` divisible by `size`).
public func modelParallelPart(_ total: Int, rank: Int, size: Int) -> Range<Int> {
    let part = total / size
    return rank * part ..< (rank + 1) * part
}

/// The gradient L2 norm of a whole model whose parameters are split over a model-parallel group (mpu
/// `clip_grad_norm`): the squared norms of this rank's partitions are summed over the group, and those
/// of the replicated parameters (equal on every rank) are counted once. One process: `gradientNorm`.
public func modelParallelGradientNorm(partitioned: [Parameter], replicated: [Parameter],
                                      group: any ModelParallelCollectives) throws -> Double {
    var sums = [partitioned.reduce(0.0) { $0 + glmk_sum_squares($1.gradient.floats, $1.gradient.count) }]
    try sums.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
    return (sums[0] + replicated.reduce(0.0) { $0 + glmk_sum_squares($1.gradient.floats, $1.gradient.count) }).squareRoot()
}
