import XCTest
@testable import GLMEngine

final class TensorTests: XCTestCase {
    func testViewsShareStorage() throws {
        let t = try Tensor(shape: [3, 2, 2], values: (0..<12).map(Float.init))
        let r = try t.reshaped([6, -1])
        XCTAssertEqual(r.shape, [6, 2])
        XCTAssertTrue(r.storage === t.storage)
        let s = try t.slice(1..<3)
        XCTAssertEqual(s.shape, [2, 2, 2])
        XCTAssertEqual(s.toFloats(), (4..<12).map(Float.init))
        XCTAssertEqual(try t.row(2).toFloats(), [8, 9, 10, 11])
        s.floats[0] = 100
        XCTAssertEqual(t.toFloats()[4], 100, "views write through")
        XCTAssertThrowsError(try t.reshaped([5, -1]))
        XCTAssertThrowsError(try t.slice(2..<4))
        XCTAssertThrowsError(try Tensor(shape: [2, 2], values: [1, 2, 3]))
    }

    func testAlignmentAndPoolReuse() {
        let pool = BufferPool()
        var t: Tensor? = Tensor(uninitialized: [1000], pool: pool)
        XCTAssertEqual(Int(bitPattern: t!.rawPointer) % 64, 0)
        XCTAssertEqual(pool.allocations, 1)
        t = nil
        let u = Tensor(uninitialized: [995], pool: pool)  // same size class (4032 bytes)
        XCTAssertEqual(pool.allocations, 1)
        XCTAssertEqual(pool.reuses, 1)
        _ = u
        XCTAssertEqual(BufferPool.sizeClass(5000), 5120)
        XCTAssertEqual(BufferPool.sizeClass(8192), 8192)
        XCTAssertEqual(BufferPool.sizeClass(8193), 10240)
    }

    /// A request may reuse a cached buffer up to two classes larger (pre-training's varying row lengths),
    /// never a much larger one.
    func testPoolServesNearbyLargerClassesOnly() {
        let pool = BufferPool()
        XCTAssertEqual(BufferPool.nextClass(10240), 12288)
        XCTAssertEqual(BufferPool.nextClass(14336), 16384)
        var a: Tensor? = Tensor(uninitialized: [3000], pool: pool)   // 12 000 bytes → class 12 288
        a = nil
        let b = Tensor(uninitialized: [2050], pool: pool)            // 8 200 bytes → class 10 240, served by 12 288
        XCTAssertEqual(pool.allocations, 1)
        XCTAssertEqual(pool.reuses, 1)
        var c: Tensor? = Tensor(uninitialized: [4096], pool: pool)   // class 16 384: three classes above 10 240
        c = nil
        let d = Tensor(uninitialized: [2050], pool: pool)
        XCTAssertEqual(pool.allocations, 3, "a buffer three classes larger is not handed out")
        XCTAssertEqual(pool.cachedBytes, 16384)
        _ = (b, d)
    }

    func testBFloat16ConversionRoundsToNearestEven() throws {
        // 1 + 2^-8 is a tie between 1 and 1 + 2^-7 → even (1); 1 + 3·2^-8 is a tie → 1 + 2^-6 (even mantissa).
        let vals: [Float] = [1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20, -2.5, .infinity, -.infinity, .nan, 0, -0.0]
        let t = try Tensor(shape: [vals.count], values: vals)
        let back = t.toBFloat16().toFloat32().toFloats()
        XCTAssertEqual(back[0], 1)
        XCTAssertEqual(back[1], 1)
        XCTAssertEqual(back[2], 1 + 0x1p-6)
        XCTAssertEqual(back[3], 1 + 0x1p-7)
        XCTAssertEqual(back[4], -2.5)
        XCTAssertEqual(back[5], .infinity)
        XCTAssertEqual(back[6], -.infinity)
        XCTAssertTrue(back[7].isNaN)
        XCTAssertEqual(back[9].sign, .minus)
    }

    func testSeededRandomIsReproducible() {
        XCTAssertEqual(Tensor.randomNormal([17], seed: 5).toFloats(), Tensor.randomNormal([17], seed: 5).toFloats())
        XCTAssertNotEqual(Tensor.randomNormal([17], seed: 5).toFloats(), Tensor.randomNormal([17], seed: 6).toFloats())
        let u = Tensor.randomUniform([1000], low: -1, high: 1, seed: 1).toFloats()
        XCTAssert(u.allSatisfy { $0 >= -1 && $0 < 1 })
        let n = Tensor.randomNormal([20000], std: 2, seed: 2).toFloats().map(Double.init)
        let mean = n.reduce(0, +) / 20000, sd = (n.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 20000).squareRoot()
        XCTAssertEqual(mean, 0, accuracy: 0.05)
        XCTAssertEqual(sd, 2, accuracy: 0.05)
    }
}

final class ConcatTests: XCTestCase {
    func testConcatenateAlongSequenceAxis() throws {
        let a = try Tensor(shape: [2, 1, 2], values: [1, 2, 3, 4]), b = try Tensor(shape: [2, 2, 2], values: [5, 6, 7, 8, 9, 10, 11, 12])
        let c = try Tensor.concatenate([a, b], axis: 1)
        XCTAssertEqual(c.shape, [2, 3, 2])
        XCTAssertEqual(c.toFloats(), [1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12])
        XCTAssertEqual(try Tensor.concatenate([a, a], axis: 0).toFloats(), [1, 2, 3, 4, 1, 2, 3, 4])
        XCTAssertThrowsError(try Tensor.concatenate([a, b], axis: 0))
    }
}
