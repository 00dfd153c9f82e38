import XCTest
import GLMSupport

final class ChecksumTests: XCTestCase {
    func testCRC32KnownVector() {
        let bytes = Array("123456789".utf8)
        XCTAssertEqual(bytes.withUnsafeBytes { CRC32.checksum($0) }, 0xCBF4_3926)
        // Streaming in pieces (crossing the 8-byte fast path) gives the same value.
        let long = [UInt8]((0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        var c = CRC32()
        long.withUnsafeBytes { b in
            c.update(UnsafeRawBufferPointer(rebasing: b[0..<13]))
            c.update(UnsafeRawBufferPointer(rebasing: b[13...]))
        }
        XCTAssertEqual(c.value, long.withUnsafeBytes { CRC32.checksum($0) })
    }

    func testFNV1a64KnownVectors() {
        var h = FNV1a64()
        XCTAssertEqual(h.hex, "cbf29ce484222325")
        Array("a".utf8).withUnsafeBytes { h.update($0) }
        XCTAssertEqual(h.value, 0xAF63_DC4C_8601_EC8C)
    }
}
