// Row-keyed dropout for data-parallel training: a process that holds rows [first, first+local) of a
// global batch of `global` rows draws exactly the masks one process holding the whole batch would draw.

/// Which rows of a larger batch this tape's batch is (data parallelism: rank r holds rows r·b ..< r·b+b).
///
/// WHY it is enough: every dropout call's tensor has the batch as its outermost dimension ([b, s, h],
/// [b, heads, q, k]), and the Philox mask of element j is a pure function of (seed, stream position j).
/// One process with G rows gives call c the positions G·m₀ + (0 ..< G·m_c), where m₀ is the per-row
/// element count of the calls before it; the local rows [first, first + L) of that call are the
/// contiguous positions G·m₀ + first·m_c + (0 ..< L·m_c). The local counter (`dropoutOffset`) is L·m₀, so
/// the start follows from it, and nothing in the kernels changes. nil (one process): positions as before.
public struct DropoutRows: Sendable, Equatable {
    public let first: Int
    public let local: Int
    public let global: Int
    public init(first: Int, local: Int, global: Int) {
        precondition(local > 0 && first >= 0 && first + local <= global, "rows \(first)..<\(first + local) of \(global)")
        self.first = first; self.local = local; self.global = global
    }
}

extension Tape {
    /// Takes the next `n` positions of this tape's dropout stream and returns the stream position where
    /// the mask of these `n` elements starts (`dropoutRows` maps it into the global batch's stream).
    func takeDropoutPositions(_ n: Int) -> UInt64 {
        let local = dropoutOffset
        dropoutOffset &+= UInt64(n)
        guard let rows = dropoutRows else { return local }
        precondition(n % rows.local == 0 && Int(local) % rows.local == 0,
                     "dropout on a tensor whose outermost dimension is not the batch (\(n) elements, \(rows.local) rows)")
        let before = Int(local) / rows.local, perRow = n / rows.local
        return UInt64(rows.global * before + rows.first * perRow)
    }
}
