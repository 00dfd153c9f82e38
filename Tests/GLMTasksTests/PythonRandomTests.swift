import XCTest
@testable import GLMTasks

/// `PythonRandom` against CPython 3.11's `random.Random` (expected values printed by python3).
final class PythonRandomTests: XCTestCase {
    func testRandomFloats() {
        var r = PythonRandom(seed: 1234)
        XCTAssertEqual([r.random(), r.random(), r.random()], [0.9664535356921388, 0.4407325991753527, 0.007491470058587191])
        var z = PythonRandom(seed: 0)
        XCTAssertEqual(z.random(), 0.8444218515250481)
        var big = PythonRandom(seed: (1 << 40) + 5)  // two 32-bit key words
        XCTAssertEqual(big.random(), 0.5043802970418443)
        var negative = PythonRandom(seed: -7)  // abs(seed)
        XCTAssertEqual(negative.random(), 0.32383276483316237)
    }

    func testGetrandbits() {
        var r = PythonRandom(seed: 1234)
        XCTAssertEqual([1, 5, 31, 32, 33, 64].map { r.getrandbits($0) },
                       [1, 24, 946466063, 501869158, 32175636, 17386697504169769072])
    }

    func testRandintAndRandrange() {
        var r = PythonRandom(seed: 1234)
        XCTAssertEqual((0..<10).map { _ in r.randint(0, 10) }, [7, 1, 0, 1, 9, 0, 10, 1, 1, 5])
        XCTAssertEqual(r.randrange(3, 1000), 245)
        XCTAssertEqual(r.randrange(5), 0)
        XCTAssertEqual(r.randrange(0, 100, step: 7), 0)
    }

    func testSampleBothAlgorithms() {
        var r = PythonRandom(seed: 1234)
        XCTAssertEqual(r.sample(0..<23, 2), [14, 3])  // 23 > 21: the rejection set
        XCTAssertEqual(r.sample(0..<10, 10), [0, 1, 9, 5, 6, 7, 4, 8, 3, 2])  // the pool
        XCTAssertEqual(r.sample(0..<100, 7), [3, 2, 44, 82, 79, 61, 78])  // k > 5: setsize 21 + 4^3
        XCTAssertEqual(r.sample(0..<200, 3), [118, 38, 23])
        var s = PythonRandom(seed: 1234)
        XCTAssertEqual(s.sample(0..<23, 2), [14, 3])
        XCTAssertEqual(s.sample(0..<12, 1), [0])
        XCTAssertEqual(s.sample(0..<0, 0), [])
    }

    func testShuffleAndChoice() {
        var r = PythonRandom(seed: 42)
        var l = Array(0..<12)
        r.shuffle(&l)
        XCTAssertEqual(l, [7, 5, 2, 8, 9, 6, 11, 3, 4, 0, 1, 10])
        XCTAssertEqual(r.choice(["a", "b", "c"]), "a")
    }

    func testCopiesAreIndependentStates() {
        var a = PythonRandom(seed: 1234)
        _ = a.random()
        var b = a
        XCTAssertEqual(a.random(), b.random())
        XCTAssertEqual(a, b)
    }
}
