#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a profiled interval's time is filed in a profile (GEMM vs attention vs elementwise vs loss vs
/// optimizer vs overhead, the split that says where a training step's time goes). `overhead` is whatever the profile does not attribute: wall − Σ measured.
public enum ProfileCategory: String, CaseIterable, Sendable {
    case gemm, attention, elementwise, loss, optimizer, overhead

    /// The category of a tape op or a named step phase. Unknown names (e.g. a recompute wrapper's own
    /// glue) count as overhead.
    public static func of(_ name: String) -> ProfileCategory {
        switch name {
        case "linear", "matmul": return .gemm
        case "attention", "attentionBF16Cache": return .attention
        case "layerNorm", "gelu", "add", "biasAdd", "scale", "dropout", "embedding": return .elementwise
        case "crossEntropy": return .loss
        case "adamw", "clipGradNorm", "zeroGrad": return .optimizer
        default: return .overhead
        }
    }

    /// Compute-bound categories report GFLOP/s, memory-bound ones GB/s.
    public var isCompute: Bool { self == .gemm || self == .attention }
}

/// Forward and backward of a tape op, or a step phase outside the tape (optimizer).
public enum ProfilePhase: String, Sendable {
    case forward, backward, step
}

/// The work of one call: floating-point operations (matrix products) and an estimate of the bytes moved
/// through memory (each tensor read or written once; memory-bound kernels).
public struct OpWork: Sendable, Equatable {
    public var flops: Double
    public var bytes: Double
    public init(flops: Double = 0, bytes: Double = 0) { self.flops = flops; self.bytes = bytes }
    public static let none = OpWork()

    /// Bytes of `elements` float32 values moved `passes` times (e.g. read x, write y: passes 2).
    public static func floats(_ elements: Int, passes: Int) -> OpWork {
        OpWork(bytes: Double(elements) * Double(passes) * 4)
    }
}

/// Per-op timing of tape ops (forward and backward) and of named step phases, with EXCLUSIVE times: an
/// interval that contains other measured intervals (a recompute wrapper around a whole layer) keeps only
/// its own time, so nothing is counted twice and Σ entries ≤ the wall time that brackets them.
///
/// Attach one to `Tape.profiler`; a tape without one does no timing at all (one nil check per op). Not
/// thread-safe: a tape, and therefore its profiler, is driven from one thread.
public final class Profiler {
    public struct Key: Hashable, Sendable {
        public let name: String
        /// Shape summary that tells calls of the same op apart (e.g. which linear layer).
        public let detail: String
        public let phase: ProfilePhase
    }

    public struct Entry: Sendable {
        public let key: Key
        public let category: ProfileCategory
        public var calls = 0
        public var nanoseconds: UInt64 = 0
        public var work = OpWork()
        public var seconds: Double { Double(nanoseconds) / 1e9 }
    }

    /// An open interval (returned by `start`, closed by `finish`).
    public struct Token: Sendable {
        let start: UInt64
        let depth: Int
    }

    public private(set) var entries: [Key: Entry] = [:]
    /// Nanoseconds of already-finished child intervals, one slot per open interval.
    private var childTime: [UInt64] = []

    public init() {}

    /// Monotonic clock in nanoseconds.
    public static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    public func start() -> Token {
        let t = Token(start: Self.now(), depth: childTime.count)
        childTime.append(0)
        return t
    }

    /// Closes `token` and files its exclusive time (total − finished children) under name/detail/phase.
    /// Intervals left open by an error thrown in between are discarded, so the stack stays consistent.
    public func finish(_ token: Token, name: String, detail: String = "", phase: ProfilePhase,
                       work: OpWork = .none, category: ProfileCategory? = nil) {
        let end = Self.now()
        let total = end &- token.start
        guard token.depth < childTime.count else { return }
        let children = childTime[token.depth]
        childTime.removeSubrange(token.depth...)
        if token.depth > 0 { childTime[token.depth - 1] &+= total }
        let key = Key(name: name, detail: detail, phase: phase)
        var e = entries[key] ?? Entry(key: key, category: category ?? ProfileCategory.of(name))
        e.calls += 1
        e.nanoseconds &+= total >= children ? total - children : 0
        e.work.flops += work.flops
        e.work.bytes += work.bytes
        entries[key] = e
    }

    /// Times `body` as one interval (optimizer phases and anything else outside the tape).
    public func measure<T>(_ name: String, detail: String = "", phase: ProfilePhase = .step, work: OpWork = .none,
                           category: ProfileCategory? = nil, _ body: () throws -> T) rethrows -> T {
        let t = start()
        defer { finish(t, name: name, detail: detail, phase: phase, work: work, category: category) }
        return try body()
    }

    /// Forgets every entry (e.g. after warm-up steps).
    public func reset() {
        entries = [:]
        childTime = []
    }

    /// Σ of every entry's exclusive time.
    public var measuredNanoseconds: UInt64 { entries.values.reduce(0) { $0 &+ $1.nanoseconds } }

    /// The profile of `steps` steps that took `wallNanoseconds` in total (the wall time must bracket every
    /// measured interval); `overhead` = wall − Σ measured.
    public func summary(wallNanoseconds: UInt64, steps: Int) -> ProfileSummary {
        ProfileSummary(entries: Array(entries.values), wallSeconds: Double(wallNanoseconds) / 1e9, steps: max(steps, 1))
    }
}

/// A finished profile: time per category and per op, per step, with achieved rates.
public struct ProfileSummary: Sendable {
    public struct Row: Sendable {
        public let label: String
        public let category: ProfileCategory
        /// Milliseconds per step.
        public let msPerStep: Double
        /// Fraction of the wall time.
        public let share: Double
        public let callsPerStep: Double
        public let work: OpWork
        public let seconds: Double

        /// GFLOP/s for compute categories, GB/s for the others; nil when no work was recorded.
        public var rate: Double? {
            guard seconds > 0 else { return nil }
            if category.isCompute { return work.flops > 0 ? work.flops / seconds / 1e9 : nil }
            return work.bytes > 0 ? work.bytes / seconds / 1e9 : nil
        }
        public var rateUnit: String { category.isCompute ? "GFLOP/s" : "GB/s" }
    }

    public let entries: [Profiler.Entry]
    public let wallSeconds: Double
    public let steps: Int

    public var wallMsPerStep: Double { wallSeconds * 1000 / Double(steps) }
    public var measuredSeconds: Double { entries.reduce(0) { $0 + $1.seconds } }

    /// One row per category, in `ProfileCategory` order; overhead = wall − Σ measured (never hidden).
    public var categories: [Row] {
        ProfileCategory.allCases.map { c in
            let es = entries.filter { $0.category == c }
            var seconds = es.reduce(0) { $0 + $1.seconds }
            if c == .overhead { seconds += wallSeconds - measuredSeconds }
            let work = es.reduce(OpWork()) { OpWork(flops: $0.flops + $1.work.flops, bytes: $0.bytes + $1.work.bytes) }
            return row(c.rawValue, c, seconds: seconds, calls: es.reduce(0) { $0 + $1.calls }, work: work)
        }
    }

    /// Forward / backward / step phases (all categories but overhead).
    public func phaseSeconds(_ phase: ProfilePhase) -> Double {
        entries.filter { $0.key.phase == phase }.reduce(0) { $0 + $1.seconds }
    }

    /// The `n` most expensive (op, shape, phase) entries.
    public func topOps(_ n: Int) -> [Row] {
        entries.sorted { $0.nanoseconds > $1.nanoseconds }.prefix(n).map { e in
            let label = e.key.name + (e.key.detail.isEmpty ? "" : " " + e.key.detail) + " [\(e.key.phase.rawValue)]"
            return row(label, e.category, seconds: e.seconds, calls: e.calls, work: e.work)
        }
    }

    private func row(_ label: String, _ c: ProfileCategory, seconds: Double, calls: Int, work: OpWork) -> Row {
        Row(label: label, category: c, msPerStep: seconds * 1000 / Double(steps),
            share: wallSeconds > 0 ? seconds / wallSeconds : 0, callsPerStep: Double(calls) / Double(steps),
            work: work, seconds: seconds)
    }
}
