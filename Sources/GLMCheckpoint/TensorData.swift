import GLMSupport

/// Heap bytes owned by tensors that were built in memory (merged shards, conversions, tests).
final class OwnedBytes: @unchecked Sendable {
    let buffer: UnsafeMutableRawBufferPointer
    init(byteCount: Int) {
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(byteCount, 1), alignment: 64)
    }
    deinit { buffer.deallocate() }
}

/// One tensor of a checkpoint: element type, shape and its contiguous row-major bytes (little-endian).
///
/// The bytes are either a window of a memory-mapped file (nothing is copied when a checkpoint is opened)
/// or owned heap memory. Values are converted to float32 only when asked (`floats()`), so a model can be
/// loaded with memory near its on-disk size. Immutable, hence `Sendable`.
public struct TensorData: @unchecked Sendable, CustomStringConvertible {
    public let dtype: StoredDType
    public let shape: [Int]
    /// Keeps the mapping or heap block alive as long as any view of it exists.
    private let owner: AnyObject
    private let raw: UnsafeRawBufferPointer

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { raw.count }
    public var description: String { "\(dtype.rawValue)\(shape)" }

    /// Checked product of a shape; nil when it overflows or a dimension is negative.
    public static func checkedCount(_ shape: [Int]) -> Int? {
        var n = 1
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }

    /// A view of `file` bytes `offset ..< offset + count*size`; throws if that leaves the file.
    public init(mapped file: MappedFile, offset: Int, dtype: StoredDType, shape: [Int], what: String) throws {
        guard let n = TensorData.checkedCount(shape), n.multipliedReportingOverflow(by: dtype.byteSize).overflow == false else {
            throw CheckpointError(.outOfBounds, file: file.path, "\(what): shape \(shape) is invalid or too large")
        }
        self.dtype = dtype
        self.shape = shape
        owner = file
        raw = try file.slice(offset: offset, count: n * dtype.byteSize, what: what)
    }

    /// Copies `bytes` (row-major, little-endian) into a new tensor; the byte count must match the shape.
    public init(dtype: StoredDType, shape: [Int], bytes: UnsafeRawBufferPointer) throws {
        guard let n = TensorData.checkedCount(shape), n * dtype.byteSize == bytes.count else {
            throw CheckpointError(.shapeMismatch, file: "<memory>",
                                  "\(bytes.count) bytes do not hold a \(dtype.rawValue) tensor of shape \(shape)")
        }
        let o = OwnedBytes(byteCount: bytes.count)
        if bytes.count > 0 { o.buffer.copyMemory(from: bytes) }
        self.init(dtype: dtype, shape: shape, owned: o, count: bytes.count)
    }

    init(dtype: StoredDType, shape: [Int], owned: OwnedBytes, count: Int) {
        self.dtype = dtype
        self.shape = shape
        owner = owned
        raw = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(owned.buffer)[0..<count])
    }

    /// Allocates a tensor and lets `fill` write its bytes (exactly `elementCount * dtype.byteSize`).
    public static func build(dtype: StoredDType, shape: [Int], _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> TensorData {
        let n = shape.reduce(1, *) * dtype.byteSize
        let o = OwnedBytes(byteCount: n)
        try fill(UnsafeMutableRawBufferPointer(rebasing: o.buffer[0..<n]))
        return TensorData(dtype: dtype, shape: shape, owned: o, count: n)
    }

    /// A float32 tensor from values (tests, conversions).
    public init(float32 values: [Float], shape: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        self = values.withUnsafeBytes { try! TensorData(dtype: .float32, shape: shape, bytes: $0) }
    }

    /// An int64 tensor from values (ids).
    public init(int64 values: [Int64], shape: [Int]) {
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) does not match \(values.count) values")
        self = values.withUnsafeBytes { try! TensorData(dtype: .int64, shape: shape, bytes: $0) }
    }

    /// The raw little-endian bytes, valid inside `body` only.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(raw) }
    }

    /// For tensors that are views of a memory-mapped file: lets the kernel drop their resident pages
    /// (see `MappedFile.dropPages`). No effect on heap tensors. Values stay readable.
    public func releaseMappedPages() {
        guard let file = owner as? MappedFile, raw.count > 0 else { return }
        let offset = raw.baseAddress! - file.bytes.baseAddress!
        file.dropPages(offset: offset, count: raw.count)
    }

    /// The object that keeps the bytes alive (the mapping or heap block): hold it as long as a pointer
    /// from `baseAddress` is used (zero-copy consumers such as mapped inference weights).
    public var keepAlive: AnyObject { owner }

    /// The first byte (nil for an empty tensor); valid while `keepAlive` is held.
    public var baseAddress: UnsafeRawPointer? { raw.count > 0 ? raw.baseAddress : nil }

    /// Whether the bytes are a window of a memory-mapped file (false: heap memory this tensor owns).
    public var isMapped: Bool { owner is MappedFile }

    /// Rows `range` of the leading dimension as a view of the same bytes (converters walk big tensors
    /// in row blocks so that their temporaries stay small).
    public func rows(_ range: Range<Int>) -> TensorData {
        precondition(!shape.isEmpty && range.lowerBound >= 0 && range.upperBound <= shape[0], "rows \(range) of \(shape)")
        let rowBytes = shape.dropFirst().reduce(1, *) * dtype.byteSize
        return TensorData(dtype: dtype, shape: [range.count] + shape.dropFirst(), owner: owner,
                          raw: UnsafeRawBufferPointer(rebasing: raw[(range.lowerBound * rowBytes)..<(range.upperBound * rowBytes)]))
    }

    /// The same bytes under another shape with the same element count.
    public func reshaped(_ newShape: [Int]) -> TensorData? {
        guard TensorData.checkedCount(newShape) == elementCount else { return nil }
        return TensorData(dtype: dtype, shape: newShape, owner: owner, raw: raw)
    }

    private init(dtype: StoredDType, shape: [Int], owner: AnyObject, raw: UnsafeRawBufferPointer) {
        self.dtype = dtype
        self.shape = shape
        self.owner = owner
        self.raw = raw
    }

    /// Writes the values as float32 into `out` (which must hold `elementCount` floats). Integer and bool
    /// tensors are converted too; float64 is rounded.
    public func copyFloats(into out: UnsafeMutableBufferPointer<Float>) {
        precondition(out.count >= elementCount, "destination holds \(out.count) floats, tensor has \(elementCount)")
        let n = elementCount
        withUnsafeBytes { src in
            switch dtype {
            case .float32:
                if n > 0 { UnsafeMutableRawPointer(out.baseAddress!).copyMemory(from: src.baseAddress!, byteCount: n * 4) }
            case .float16:
                for i in 0..<n { out[i] = FloatBits.halfToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .bfloat16:
                for i in 0..<n { out[i] = FloatBits.bfloatToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .float64:
                for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            case .int64:
                for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
            case .int32:
                for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
            case .int16:
                for i in 0..<n { out[i] = Float(src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
            case .int8:
                for i in 0..<n { out[i] = Float(Int8(bitPattern: src[i])) }
            case .uint8, .bool:
                for i in 0..<n { out[i] = Float(src[i]) }
            }
        }
    }

    /// All values as float32.
    public func floats() -> [Float] {
        [Float](unsafeUninitializedCapacity: elementCount) { buf, count in
            copyFloats(into: buf)
            count = elementCount
        }
    }

    /// All values as Int64 (integer and bool tensors; floats are truncated toward zero).
    public func int64s() -> [Int64] {
        let n = elementCount
        return withUnsafeBytes { src in
            switch dtype {
            case .int64: return (0..<n).map { src.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
            case .int32: return (0..<n).map { Int64(src.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
            case .int16: return (0..<n).map { Int64(src.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self)) }
            case .int8: return (0..<n).map { Int64(Int8(bitPattern: src[$0])) }
            case .uint8, .bool: return (0..<n).map { Int64(src[$0]) }
            default: return floats().map { $0.isFinite ? Int64($0) : 0 }
            }
        }
    }

    /// The tensor in another floating dtype (round-to-nearest-even, as torch's `.to()`); returns `self`
    /// when the dtype already matches.
    public func converted(to target: StoredDType) -> TensorData {
        if target == dtype { return self }
        precondition(target.isFloatingPoint && dtype.isFloatingPoint, "only float↔float conversions are supported")
        let n = elementCount
        return TensorData.build(dtype: target, shape: shape) { dst in
            // Go through float32 in blocks to bound the temporary.
            let block = 1 << 16
            var tmp = [Float](repeating: 0, count: min(block, max(n, 1)))
            withUnsafeBytes { src in
                var start = 0
                while start < n {
                    let m = min(block, n - start)
                    tmp.withUnsafeMutableBufferPointer { t in
                        let part = TensorData(dtype: dtype, shape: [m], owner: owner,
                                              raw: UnsafeRawBufferPointer(rebasing: src[(start * dtype.byteSize)..<((start + m) * dtype.byteSize)]))
                        part.copyFloats(into: t)
                        let o = start * target.byteSize
                        switch target {
                        case .float32:
                            for i in 0..<m { dst.storeBytes(of: t[i], toByteOffset: o + 4 * i, as: Float.self) }
                        case .float16:
                            for i in 0..<m { dst.storeBytes(of: FloatBits.floatToHalf(t[i]), toByteOffset: o + 2 * i, as: UInt16.self) }
                        case .bfloat16:
                            for i in 0..<m { dst.storeBytes(of: FloatBits.floatToBfloat(t[i]), toByteOffset: o + 2 * i, as: UInt16.self) }
                        case .float64:
                            for i in 0..<m { dst.storeBytes(of: Double(t[i]), toByteOffset: o + 8 * i, as: Double.self) }
                        default: break
                        }
                    }
                    start += m
                }
            }
        }
    }

    /// Same dtype, shape and bytes (bit-exact equality, NaNs included).
    public func bitwiseEqual(_ other: TensorData) -> Bool {
        guard dtype == other.dtype, shape == other.shape, byteCount == other.byteCount else { return false }
        return withUnsafeBytes { a in other.withUnsafeBytes { b in
            a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
        } }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The flat `name → tensor` map of a model, in the original's parameter names.
public typealias StateDict = [String: TensorData]
