/// Element types a `Tensor` can hold.
public enum DType: String, Sendable, CustomStringConvertible {
    case float32
    /// bfloat16: the top 16 bits of a float32 (8-bit exponent, 7-bit mantissa), stored as UInt16.
    case bfloat16
    /// Token ids, positions, targets.
    case int32

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32, .int32: return 4
        case .bfloat16: return 2
        }
    }

    public var description: String { rawValue }
}
