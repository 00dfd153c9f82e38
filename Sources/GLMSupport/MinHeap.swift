/// A binary min-heap. WHY one generic heap: BPE merges, SentencePiece merges and top-k filtering each had
/// a hand-written copy. The exact sift rules are part of the contract, because tokenizers pop equal keys
/// in heap order: `push` sifts up while the new element is `<` its parent; `pop` moves the last element
/// to the root and sifts down, swapping with the left child if it is `<` the current one, then with the
/// right child if it is `<` the smaller so far. Only `<` is used (elements may order by a key alone).
/// Methods are `@inlinable` so that hot loops get a specialised heap.
public struct MinHeap<Element: Comparable> {
    @usableFromInline var elements: [Element] = []

    @inlinable public init() {}

    @inlinable public init(minimumCapacity: Int) { elements.reserveCapacity(minimumCapacity) }

    @inlinable public var isEmpty: Bool { elements.isEmpty }
    @inlinable public var count: Int { elements.count }

    /// The smallest element.
    @inlinable public func peek() -> Element? { elements.first }

    @inlinable public mutating func push(_ x: Element) {
        elements.append(x)
        var i = elements.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !(elements[i] < elements[parent]) { break }
            elements.swapAt(parent, i)
            i = parent
        }
    }

    /// Removes and returns the smallest element.
    @inlinable public mutating func pop() -> Element? {
        guard let first = elements.first else { return nil }
        let last = elements.removeLast()
        if !elements.isEmpty {
            elements[0] = last
            siftDown(from: 0)
        }
        return first
    }

    /// Replaces the smallest element by `x` (the heap must not be empty): a pop and a push in one sift.
    @inlinable public mutating func replaceTop(with x: Element) {
        elements[0] = x
        siftDown(from: 0)
    }

    @inlinable mutating func siftDown(from start: Int) {
        var i = start
        let n = elements.count
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < n && elements[l] < elements[m] { m = l }
            if r < n && elements[r] < elements[m] { m = r }
            if m == i { return }
            elements.swapAt(i, m)
            i = m
        }
    }
}
