// The gradient all-reduce of data-parallel training, started bucket by bucket DURING the backward pass.
import GLMEngine

/// Sums gradients over the data-parallel ranks while the backward pass is still running.
///
/// The plan is fixed per parameter list: parameters in reverse order (the order backward finishes them),
/// grouped into buckets; a gradient of at least `inPlaceElements` floats is a bucket of its own, summed in
/// place; smaller ones are packed into a staging buffer of at most `bucketElements`. The tape reports
/// parameters whose gradient is final (`Tape.onParameterGradientsFinal`); a bucket starts (MPI_Iallreduce)
/// once all its parameters are final and every earlier bucket has started, so every rank starts the same
/// sums in the same order whatever its own backward did. `finish` starts what is left (a rank that ran no
/// backward starts everything there), waits, and unpacks.
final class OverlappedGradientReduction {
    private struct Bucket {
        var parameters: [Parameter]
        var elements: Int
        var packed: Bool
    }
    private let group: any TrainingCollectives
    private let buckets: [Bucket]
    private let bucketOf: [ObjectIdentifier: Int]
    /// Packed buckets' buffers (tensors: their storage does not move while a sum is in flight).
    private let staging: [Tensor?]
    private var remaining: [Int] = []
    private var nextToStart = 0
    private var pending: [(bucket: Int, op: any PendingCollective)] = []
    /// Buckets started during a backward pass, and all buckets started, since creation.
    private(set) var startedDuringBackward = 0, started = 0

    init(group: any TrainingCollectives, parameters: [Parameter], bucketElements: Int, inPlaceElements: Int = 1 << 16) {
        self.group = group
        var plan: [Bucket] = [], open: Bucket?
        for p in parameters.reversed() {
            let n = p.value.count
            if n >= inPlaceElements { plan.append(Bucket(parameters: [p], elements: n, packed: false)); continue }
            if let b = open, b.elements + n > bucketElements { plan.append(b); open = nil }
            if open == nil { open = Bucket(parameters: [], elements: 0, packed: true) }
            open!.parameters.append(p); open!.elements += n
        }
        if let b = open { plan.append(b) }
        buckets = plan
        var index: [ObjectIdentifier: Int] = [:]
        for (i, b) in plan.enumerated() { for p in b.parameters { index[ObjectIdentifier(p)] = i } }
        bucketOf = index
        staging = plan.map { $0.packed ? Tensor(zeros: [$0.elements]) : nil }
    }

    /// Starts a step: no bucket started, every parameter still pending.
    func begin() {
        remaining = buckets.map(\.parameters.count)
        nextToStart = 0
        pending.removeAll()
    }

    /// The tape's report: these gradients are final on this rank.
    func parametersFinal(_ parameters: [Parameter]) throws {
        for p in parameters { if let b = bucketOf[ObjectIdentifier(p)] { remaining[b] -= 1 } }
        while nextToStart < buckets.count && remaining[nextToStart] == 0 {
            try start(nextToStart); nextToStart += 1; startedDuringBackward += 1
        }
        for p in pending { _ = try p.op.poll() }   // lets the transport progress the sums already started
    }

    /// Starts every bucket not yet started, waits for all, and puts packed sums back into the gradients.
    func finish() throws {
        while nextToStart < buckets.count { try start(nextToStart); nextToStart += 1 }
        for (b, op) in pending {
            try op.wait()
            guard let s = staging[b] else { continue }
            var at = 0
            for p in buckets[b].parameters {
                p.gradient.floats.update(from: s.floats + at, count: p.value.count); at += p.value.count
            }
        }
        pending.removeAll()
    }

    private func start(_ b: Int) throws {
        started += 1
        let bucket = buckets[b]
        if !bucket.packed {
            let g = bucket.parameters[0].gradient
            pending.append((b, try group.startAllReduceFloats(UnsafeMutableBufferPointer(start: g.floats, count: g.count))))
            return
        }
        let s = staging[b]!
        var at = 0
        for p in bucket.parameters {
            (s.floats + at).update(from: p.gradient.floats, count: p.value.count); at += p.value.count
        }
        pending.append((b, try group.startAllReduceFloats(UnsafeMutableBufferPointer(start: s.floats, count: s.count))))
    }
}
