/// 64-bit FNV-1a, used to fingerprint files and jobs (not for security). WHY here: the data pipeline
/// fingerprints its outputs and jobs with it and the dataset reader verifies them; one definition keeps
/// the recorded checksums comparable.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        value = h
    }
    /// The string's UTF-8 followed by a 0 byte, so "ab"+"c" differs from "a"+"bc".
    public mutating func update(_ string: String) {
        var s = string
        s.withUTF8 { update(UnsafeRawBufferPointer($0)) }
        var separator: UInt8 = 0
        withUnsafeBytes(of: &separator) { update($0) }
    }
    /// 16 lower-case hex digits.
    public var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
