// A byte trie with hashed transitions, for SentencePiece unigram's traversal of all pieces that
// start at a position (darts-clone's traverse() in the original).

struct ByteTrie: Sendable {
    private var transitions = PairTable(capacity: 1 << 16)
    private var values: [Int32] = [-1]  // node 0 is the root

    mutating func insert(_ key: [UInt8], value: Int32) {
        var node: Int32 = 0
        for b in key {
            let v = transitions.get(node, Int32(b))
            if v != UInt64.max {
                node = Int32(truncatingIfNeeded: UInt32(v & 0xFFFF_FFFF))
            } else {
                let child = Int32(values.count)
                values.append(-1)
                transitions.set(node, Int32(b), rank: 0, merged: child)
                node = child
            }
        }
        values[Int(node)] = value
    }

    /// Child of `node` by byte `b`, or -1.
    @inline(__always)
    func child(_ node: Int32, _ b: UInt8) -> Int32 {
        let v = transitions.get(node, Int32(b))
        return v == UInt64.max ? -1 : Int32(truncatingIfNeeded: UInt32(v & 0xFFFF_FFFF))
    }

    /// Value stored at `node` (-1 if none).
    @inline(__always)
    func value(_ node: Int32) -> Int32 { values[Int(node)] }
}
