// Data-parallel training over a process group (the original's DeepSpeed/torch DDP data parallelism):
// the same model on every rank, each rank a contiguous share of the global batch, gradients summed.
import GLMEngine

/// The collective steps of data-parallel training, and its bookkeeping.
///
/// - Start: rank 0's parameters are broadcast, so every rank starts from identical weights.
/// - Each step: every rank builds the GLOBAL batch (a pure function of the spec and the step) and keeps
///   rows `rank·b ..< rank·b + b`; the loss-token count of the global batch is summed first, so each
///   rank seeds its backward with its rows' share of the GLOBAL loss; the summed gradients are then exactly
///   those of one process on the whole batch. (The original averages per-rank mean losses instead.)
/// - Gradients are summed in buckets of at most `bucketElements` floats (1 M: 4 MB), in reverse parameter
///   order: with `overlap` (the default) each bucket starts as soon as the backward pass has finished its
///   gradients (`OverlappedGradientReduction`), else all after the backward pass (`allReduceGradients`).
/// - `zeroStage == 1`: each rank keeps AdamW moments only for its share of the elements
///   (`ShardedAdamW`), updates that share, and the updated values are all-gathered in buckets.
public final class DataParallel {
    public let group: any TrainingCollectives
    public let zeroStage: Int
    public let bucketElements: Int
    /// Start gradient sums during the backward pass.
    public let overlap: Bool
    private var staging: [Float]
    private var overlapped: (parameters: [ObjectIdentifier], reduction: OverlappedGradientReduction)?

    /// The group's collective statistics when the parameters had been broadcast (the start of training).
    private var atStart = CollectiveStatistics()

    public var rank: Int { group.rank }

    /// Time, bytes and calls of the collectives since the start of training (the broadcast excluded).
    public var trainingStatistics: CollectiveStatistics {
        let now = group.statistics
        var d = CollectiveStatistics()
        d.seconds = now.seconds - atStart.seconds; d.bytes = now.bytes - atStart.bytes; d.calls = now.calls - atStart.calls
        return d
    }
    public var size: Int { group.size }

    public init(group: any TrainingCollectives, zeroStage: Int = 0, bucketElements: Int = 1 << 20, overlap: Bool = true) throws {
        guard zeroStage == 0 || zeroStage == 1 else { throw TrainingError.invalidOption("--zero-stage must be 0 or 1 (got \(zeroStage))") }
        self.group = group
        self.zeroStage = zeroStage
        self.bucketElements = Swift.max(1, bucketElements)
        self.overlap = overlap
        staging = []
    }

    /// Rows of a global batch of `globalRows` rows that this rank trains on (`perRank` rows per rank;
    /// fewer, or none, when the batcher dropped rows).
    public func rows(globalRows: Int, perRank: Int) -> Range<Int> {
        let lo = Swift.min(rank * perRank, globalRows)
        return lo..<Swift.min(lo + perRank, globalRows)
    }

    /// The contiguous share of `total` flat elements rank `r` owns under ZeRO-1 (the first total % N ranks one more).
    public func shard(total: Int, rank r: Int? = nil) -> Range<Int> {
        let r = r ?? rank, n = size, base = total / n, extra = total % n
        let lo = r * base + min(r, extra)
        return lo..<(lo + base + (r < extra ? 1 : 0))
    }

    /// Copies rank 0's parameter values into every rank's.
    public func broadcastParameters(_ parameters: [Parameter]) throws {
        for p in parameters {
            try group.broadcastFloats(UnsafeMutableBufferPointer(start: p.value.floats, count: p.value.count), root: 0)
            p.markModified()
        }
        atStart = group.statistics
    }

    /// Sums `values` over the ranks.
    public func sum(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try group.allReduceDoubles($0, .sum) }
        return v
    }

    /// Largest of `values` over the ranks.
    public func max(_ values: [Double]) throws -> [Double] {
        var v = values
        try v.withUnsafeMutableBufferPointer { try group.allReduceDoubles($0, .max) }
        return v
    }

    /// Sums every parameter's gradient over the ranks. Small gradients are packed into a bucket and reduced
    /// together (one call per bucket instead of per tensor); a gradient as large as a bucket is reduced in place.
    public func allReduceGradients(_ parameters: [Parameter]) throws {
        // The staging buffer is never larger than what it must hold (it is part of the memory ZeRO-1 saves).
        let needed = Swift.min(bucketElements, parameters.reduce(0) { $0 + $1.value.count })
        if staging.count < needed { staging = [Float](repeating: 0, count: needed) }
        var pending: [Parameter] = [], filled = 0
        func flush() throws {
            guard !pending.isEmpty else { return }
            try staging.withUnsafeMutableBufferPointer { s in
                var at = 0
                for p in pending { (s.baseAddress! + at).update(from: p.gradient.floats, count: p.gradient.count); at += p.gradient.count }
                try group.allReduceFloats(UnsafeMutableBufferPointer(rebasing: s[0..<at]))
                at = 0
                for p in pending { p.gradient.floats.update(from: s.baseAddress! + at, count: p.gradient.count); at += p.gradient.count }
            }
            pending.removeAll(keepingCapacity: true); filled = 0
        }
        for p in parameters.reversed() {
            let g = p.gradient
            if g.count >= bucketElements {
                try group.allReduceFloats(UnsafeMutableBufferPointer(start: g.floats, count: g.count))
                continue
            }
            if filled + g.count > bucketElements { try flush() }
            pending.append(p); filled += g.count
        }
        try flush()
    }

    /// Gradient buckets started while the backward pass was still running, and all buckets started (overlap only).
    public var overlapCounts: (duringBackward: Int, all: Int) {
        (overlapped?.reduction.startedDuringBackward ?? 0, overlapped?.reduction.started ?? 0)
    }

    /// The overlapped reduction of `parameters` (built once per parameter list), or nil without `overlap`.
    func overlappedReduction(_ parameters: [Parameter]) -> OverlappedGradientReduction? {
        guard overlap else { return nil }
        let ids = parameters.map(ObjectIdentifier.init)
        if let o = overlapped, o.parameters == ids { return o.reduction }
        let r = OverlappedGradientReduction(group: group, parameters: parameters, bucketElements: bucketElements)
        overlapped = (ids, r)
        return r
    }

    /// After each rank updated its ZeRO-1 share: every rank receives every share of the parameter values,
    /// one bucket of the flat element order at a time.
    public func gatherParameters(_ parameters: [Parameter]) throws {
        try gather(parameters.map(\.value), total: parameters.reduce(0) { $0 + $1.value.count })
        for p in parameters { p.markModified() }
    }

    /// Full AdamW moments (one tensor per parameter) assembled from the ranks' ZeRO-1 shares, for a checkpoint.
    public func gatherMoments(_ optimizer: ShardedAdamW) throws -> (expAvg: [Tensor], expAvgSq: [Tensor]) {
        let m = optimizer.parameters.map { Tensor(zeros: $0.shape) }, v = optimizer.parameters.map { Tensor(zeros: $0.shape) }
        for (full, shard) in [(m, optimizer.expAvg), (v, optimizer.expAvgSq)] {
            for s in optimizer.segments {
                (full[s.parameter].floats + s.offset).update(from: shard.floats + (s.flatOffset - optimizer.range.lowerBound), count: s.count)
            }
            try gather(full, total: optimizer.parameters.reduce(0) { $0 + $1.value.count })
        }
        return (m, v)
    }

    /// In place over `tensors` (flat order): rank r's shard of every bucket is sent to every rank.
    private func gather(_ tensors: [Tensor], total: Int) throws {
        let needed = Swift.min(bucketElements, total)
        if staging.count < needed { staging = [Float](repeating: 0, count: needed) }
        let shards = (0..<size).map { shard(total: total, rank: $0) }
        var start = 0
        while start < total {
            let bucket = start..<Swift.min(start + bucketElements, total)
            let counts = shards.map { $0.clamped(to: bucket).count }
            try staging.withUnsafeMutableBufferPointer { s in
                let segments = flatSegments(sizes: tensors.map(\.count), range: bucket)
                for seg in segments { (s.baseAddress! + (seg.flatOffset - bucket.lowerBound)).update(from: tensors[seg.parameter].floats + seg.offset, count: seg.count) }
                try group.allGatherFloats(UnsafeMutableBufferPointer(rebasing: s[0..<bucket.count]), counts: counts)
                for seg in segments { (tensors[seg.parameter].floats + seg.offset).update(from: s.baseAddress! + (seg.flatOffset - bucket.lowerBound), count: seg.count) }
            }
            start = bucket.upperBound
        }
    }
}
