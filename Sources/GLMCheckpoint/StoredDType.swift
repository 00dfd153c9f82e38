/// Storage dtype of a tensor in a checkpoint file (distinct from GLMEngine's in-memory `DType`). Raw
/// values are the safetensors spellings.
public enum StoredDType: String, Sendable, CaseIterable, Codable {
    case float32 = "F32", float16 = "F16", bfloat16 = "BF16", float64 = "F64"
    case int64 = "I64", int32 = "I32", int16 = "I16", int8 = "I8", uint8 = "U8", bool = "BOOL"

    public var byteSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: return true
        default: return false
        }
    }

    /// The torch storage class name (`torch.<name>`) used in pickles for this dtype.
    public var torchStorageName: String {
        switch self {
        case .float32: return "FloatStorage"
        case .float16: return "HalfStorage"
        case .bfloat16: return "BFloat16Storage"
        case .float64: return "DoubleStorage"
        case .int64: return "LongStorage"
        case .int32: return "IntStorage"
        case .int16: return "ShortStorage"
        case .int8: return "CharStorage"
        case .uint8: return "ByteStorage"
        case .bool: return "BoolStorage"
        }
    }

    public init?(torchStorageName name: String) {
        guard let d = StoredDType.allCases.first(where: { $0.torchStorageName == name }) else { return nil }
        self = d
    }

    /// The torch dtype attribute name (`torch.<name>`), used by `_rebuild_tensor_v3`-style pickles.
    public init?(torchDTypeName name: String) {
        switch name {
        case "float32", "float": self = .float32
        case "float16", "half": self = .float16
        case "bfloat16": self = .bfloat16
        case "float64", "double": self = .float64
        case "int64", "long": self = .int64
        case "int32", "int": self = .int32
        case "int16", "short": self = .int16
        case "int8": self = .int8
        case "uint8": self = .uint8
        case "bool": self = .bool
        default: return nil
        }
    }

    /// Parses the user-facing spellings of `--dtype` (f32, bf16, f16, float32, ...).
    public init?(userName: String) {
        switch userName.lowercased() {
        case "f32", "fp32", "float32", "float": self = .float32
        case "f16", "fp16", "float16", "half": self = .float16
        case "bf16", "bfloat16": self = .bfloat16
        default: return nil
        }
    }
}

/// Bit-exact float conversions, written by hand so that they behave identically on every platform
/// (Swift's `Float16` is missing on some targets) and round to nearest-even exactly like torch.
public enum FloatBits {
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int32((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            if mant == 0 { return Float(bitPattern: sign) }
            // Subnormal half: value = mant * 2^-24, exact in float32.
            let v = Float(mant) * (1.0 / 16_777_216.0)
            return sign != 0 ? -v : v
        }
        if exp == 31 {
            return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        }
        return Float(bitPattern: sign | (UInt32(exp + 112) << 23) | (mant << 13))
    }

    @inline(__always)
    public static func floatToHalf(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16((x >> 16) & 0x8000)
        let exp = Int32((x >> 23) & 0xFF)
        var mant = x & 0x7F_FFFF
        if exp == 0xFF { // inf / nan (keep nan quiet and non-zero)
            return sign | 0x7C00 | (mant != 0 ? UInt16(0x200 | (mant >> 13)) : 0)
        }
        let e = exp - 127 + 15
        if e >= 31 { return sign | 0x7C00 }
        if e <= 0 {
            if e < -10 { return sign } // underflows to zero even after rounding
            mant |= 0x80_0000
            let shift = UInt32(14 - e)
            var r = mant >> shift
            let rem = mant & ((1 << shift) - 1)
            let half = UInt32(1) << (shift - 1)
            if rem > half || (rem == half && (r & 1) == 1) { r += 1 }
            return sign | UInt16(r)
        }
        var r = (UInt32(e) << 10) | (mant >> 13)
        let rem = mant & 0x1FFF
        if rem > 0x1000 || (rem == 0x1000 && (r & 1) == 1) { r += 1 } // may carry into the exponent: correct
        return sign | UInt16(truncatingIfNeeded: r)
    }

    @inline(__always)
    public static func bfloatToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    @inline(__always)
    public static func floatToBfloat(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        if f.isNaN { return UInt16(x >> 16) | 0x40 }
        let rounding = 0x7FFF + ((x >> 16) & 1)
        return UInt16((x &+ rounding) >> 16)
    }
}
