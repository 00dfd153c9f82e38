import XCTest
import GLMSupport

/// Ordered by `key` only, so equal keys show the heap's own (documented) tie order.
private struct Tagged: Comparable {
    let key: Int
    let tag: Int
    static func < (a: Tagged, b: Tagged) -> Bool { a.key < b.key }
    static func == (a: Tagged, b: Tagged) -> Bool { a.key == b.key }
}

final class MinHeapTests: XCTestCase {
    func testPopsInAscendingOrder() {
        var heap = MinHeap<Int>()
        let values = [5, 3, 9, 1, 7, 3, 0, 8, 2, 6, 4, 1]
        for v in values { heap.push(v) }
        XCTAssertEqual(heap.count, values.count)
        var out: [Int] = []
        while let v = heap.pop() { out.append(v) }
        XCTAssertEqual(out, values.sorted())
        XCTAssertTrue(heap.isEmpty)
        XCTAssertNil(heap.peek())
    }

    /// The tie order the tokenizers depend on: a reference binary heap with the same sift rules.
    func testTiesFollowTheSiftRules() {
        let input = [(2, 0), (1, 1), (2, 2), (1, 3), (0, 4), (1, 5), (2, 6), (0, 7), (1, 8)].map { Tagged(key: $0.0, tag: $0.1) }
        var heap = MinHeap<Tagged>()
        for x in input { heap.push(x) }
        var tags: [Int] = []
        while let x = heap.pop() { tags.append(x.tag) }
        XCTAssertEqual(tags, referenceOrder(input))
        XCTAssertEqual(tags, [4, 7, 8, 1, 3, 5, 0, 6, 2])   // not insertion order: the heap is not stable
    }

    func testReplaceTopKeepsTheKLargest() {
        var heap = MinHeap<Float>(minimumCapacity: 3)
        for v: Float in [4, 1, 7, 3, 9, 2, 8] {
            if heap.count < 3 { heap.push(v) } else if v > heap.peek()! { heap.replaceTop(with: v) }
        }
        XCTAssertEqual(heap.peek(), 7)
    }

    /// A plain array heap: push sifts up while child < parent; pop sifts down left-then-right.
    private func referenceOrder(_ input: [Tagged]) -> [Int] {
        var a: [Tagged] = []
        for x in input {
            a.append(x)
            var i = a.count - 1
            while i > 0, a[i] < a[(i - 1) / 2] { a.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
        }
        var out: [Int] = []
        while !a.isEmpty {
            out.append(a[0].tag)
            let last = a.removeLast()
            if a.isEmpty { break }
            a[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < a.count && a[l] < a[m] { m = l }
                if r < a.count && a[r] < a[m] { m = r }
                if m == i { break }
                a.swapAt(i, m); i = m
            }
        }
        return out
    }
}
