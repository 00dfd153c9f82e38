import CGLMKernels

/// A row-major, contiguous n-dimensional array viewing a slice of a reference-counted `Storage`.
///
/// `Tensor` is a value type with REFERENCE semantics for its elements: copies of a Tensor (and its views:
/// `reshaped`, `slice`, `row`) share memory, exactly like a pointer plus a shape. Kernels write through it.
/// That is deliberate: an engine moves buffers around, it does not want copy-on-write surprises.
/// Use `copy()` for an independent duplicate.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public let storage: Storage
    /// Offset of element 0 inside `storage`, in elements of `dtype`.
    public let offset: Int
    public let shape: [Int]
    public let dtype: DType

    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var byteCount: Int { count * dtype.size }

    public var description: String { "Tensor(\(dtype), \(shape))" }

    /// Wraps an existing storage (no copy). The caller guarantees the range fits.
    public init(storage: Storage, offset: Int = 0, shape: [Int], dtype: DType) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        precondition((offset + shape.reduce(1, *)) * dtype.size <= storage.byteCount,
                     "Tensor: view \(shape) at offset \(offset) exceeds its storage")
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.dtype = dtype
    }

    /// A new tensor from the shared pool, contents UNDEFINED (use when every element is written next).
    public init(uninitialized shape: [Int], dtype: DType = .float32, pool: BufferPool = .shared) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        let n = shape.reduce(1, *)
        self.init(storage: Storage(byteCount: max(n, 1) * dtype.size, pool: pool), shape: shape, dtype: dtype)
    }

    /// A new tensor of zeros.
    public init(zeros shape: [Int], dtype: DType = .float32, pool: BufferPool = .shared) {
        self.init(uninitialized: shape, dtype: dtype, pool: pool)
        zero()
    }

    /// A float32 tensor holding `values` (count must equal the shape's element count).
    public init(shape: [Int], values: [Float]) throws {
        guard shape.reduce(1, *) == values.count else {
            throw EngineError.shapeMismatch(op: "Tensor(shape:values:)",
                                            message: "\(values.count) values for shape \(shape)")
        }
        self.init(uninitialized: shape, dtype: .float32)
        values.withUnsafeBufferPointer { src in
            if let b = src.baseAddress { floats.update(from: b, count: values.count) }
        }
    }

    /// An int32 tensor holding `ids`.
    public init(shape: [Int], ints: [Int32]) throws {
        guard shape.reduce(1, *) == ints.count else {
            throw EngineError.shapeMismatch(op: "Tensor(shape:ints:)", message: "\(ints.count) ids for shape \(shape)")
        }
        self.init(uninitialized: shape, dtype: .int32)
        ints.withUnsafeBufferPointer { src in
            if let b = src.baseAddress { int32s.update(from: b, count: ints.count) }
        }
    }

    /// A scalar float32 tensor of shape [].
    public init(scalar: Float) {
        self.init(uninitialized: [], dtype: .float32)
        floats[0] = scalar
    }

    // MARK: pointers

    /// Raw pointer to element 0.
    public var rawPointer: UnsafeMutableRawPointer { storage.base + offset * dtype.size }

    /// Pointer to element 0 of a float32 tensor.
    public var floats: UnsafeMutablePointer<Float> {
        precondition(dtype == .float32, "Tensor.floats on a \(dtype) tensor")
        return rawPointer.assumingMemoryBound(to: Float.self)
    }

    /// Pointer to element 0 of a bfloat16 tensor (raw bits).
    public var bf16: UnsafeMutablePointer<UInt16> {
        precondition(dtype == .bfloat16, "Tensor.bf16 on a \(dtype) tensor")
        return rawPointer.assumingMemoryBound(to: UInt16.self)
    }

    /// Pointer to element 0 of an int32 tensor.
    public var int32s: UnsafeMutablePointer<Int32> {
        precondition(dtype == .int32, "Tensor.int32s on a \(dtype) tensor")
        return rawPointer.assumingMemoryBound(to: Int32.self)
    }

    /// The elements as a Swift array (float32 or bfloat16 → Float).
    public func toFloats() -> [Float] {
        switch dtype {
        case .float32: return Array(UnsafeBufferPointer(start: floats, count: count))
        case .bfloat16: return toFloat32().toFloats()
        case .int32: return Array(UnsafeBufferPointer(start: int32s, count: count)).map { Float($0) }
        }
    }

    /// The elements of an int32 tensor.
    public func toInts() -> [Int32] {
        precondition(dtype == .int32, "Tensor.toInts on a \(dtype) tensor")
        return Array(UnsafeBufferPointer(start: int32s, count: count))
    }

    /// The single element of a one-element float32 tensor.
    public var scalarValue: Float {
        precondition(count == 1 && dtype == .float32, "scalarValue on \(self)")
        return floats[0]
    }

    // MARK: filling and copying

    /// Sets every element to zero (all-zero bits in every dtype).
    public func zero() {
        if count > 0 { rawPointer.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount) }
    }

    /// Sets every element of a float32 tensor to `value`.
    public func fill(_ value: Float) {
        floats.update(repeating: value, count: count)
    }

    /// An independent copy (new storage from the pool).
    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape, dtype: dtype)
        if count > 0 { t.rawPointer.copyMemory(from: rawPointer, byteCount: byteCount) }
        return t
    }

    /// Copies the elements of `other` (same dtype and element count) into this tensor.
    public func copy(from other: Tensor) throws {
        guard other.dtype == dtype, other.count == count else {
            throw EngineError.shapeMismatch(op: "Tensor.copy(from:)", message: "\(other) into \(self)")
        }
        Self.copyBytes(to: rawPointer, from: other.rawPointer, byteCount: byteCount)
    }

    /// The byte copy of `copy(from:)`, kept out of the throwing function ON PURPOSE: Swift 6.3's LLVM may
    /// turn a memmove at the end of a `throws` function into a tail call that skips restoring the error
    /// register (r12 on x86-64), so the caller sees a phantom error and crashes (swiftlang/swift#90477,
    /// fixed by llvm/llvm-project#214590). Release builds hit it in `Tape.backward(loss)` (scalar seed).
    /// A call to this non-throwing function is never a tail call out of a throwing one.
    @inline(never)
    static func copyBytes(to dst: UnsafeMutableRawPointer, from src: UnsafeRawPointer, byteCount: Int) {
        if byteCount > 0 { dst.copyMemory(from: src, byteCount: byteCount) }
    }

    // MARK: views (no copies)

    /// The same elements seen with another shape (one dimension may be -1 and is inferred).
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        let resolved = try Tensor.resolve(newShape, count: count, op: "reshape")
        return Tensor(storage: storage, offset: offset, shape: resolved, dtype: dtype)
    }

    /// Rows `range` of the leading dimension.
    public func slice(_ range: Range<Int>) throws -> Tensor {
        guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0] else {
            throw EngineError.shapeMismatch(op: "slice", message: "range \(range) of leading dimension of \(self)")
        }
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(storage: storage, offset: offset + range.lowerBound * inner,
                      shape: [range.count] + shape.dropFirst(), dtype: dtype)
    }

    /// Element `index` of the leading dimension (the result has one dimension fewer).
    public func row(_ index: Int) throws -> Tensor {
        guard rank >= 1, index >= 0, index < shape[0] else {
            throw EngineError.shapeMismatch(op: "row", message: "index \(index) of leading dimension of \(self)")
        }
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(storage: storage, offset: offset + index * inner, shape: Array(shape.dropFirst()), dtype: dtype)
    }

    static func resolve(_ newShape: [Int], count: Int, op: String) throws -> [Int] {
        var shape = newShape
        let unknown = shape.indices.filter { shape[$0] == -1 }
        guard unknown.count <= 1, shape.allSatisfy({ $0 >= -1 }) else {
            throw EngineError.shapeMismatch(op: op, message: "bad target shape \(newShape)")
        }
        if let u = unknown.first {
            let known = shape.enumerated().filter { $0.offset != u }.reduce(1) { $0 * $1.element }
            guard known > 0, count % known == 0 else {
                throw EngineError.shapeMismatch(op: op, message: "cannot infer -1 in \(newShape) for \(count) elements")
            }
            shape[u] = count / known
        }
        guard shape.reduce(1, *) == count else {
            throw EngineError.shapeMismatch(op: op, message: "\(count) elements cannot be seen as \(newShape)")
        }
        return shape
    }

    // MARK: dtype conversion

    /// bfloat16 copy (round to nearest even; NaN stays NaN, ±Inf stays ±Inf).
    public func toBFloat16() -> Tensor {
        switch dtype {
        case .bfloat16: return copy()
        case .float32:
            let t = Tensor(uninitialized: shape, dtype: .bfloat16)
            glmk_f32_to_bf16(t.bf16, floats, count)
            return t
        case .int32: preconditionFailure("toBFloat16 on an int32 tensor")
        }
    }

    /// float32 copy (exact from bfloat16).
    public func toFloat32() -> Tensor {
        switch dtype {
        case .float32: return copy()
        case .bfloat16:
            let t = Tensor(uninitialized: shape, dtype: .float32)
            glmk_bf16_to_f32(t.floats, bf16, count)
            return t
        case .int32:
            let t = Tensor(uninitialized: shape, dtype: .float32)
            for i in 0..<count { t.floats[i] = Float(int32s[i]) }
            return t
        }
    }
}

extension Tensor {
    /// Concatenation along `axis` (all other dimensions equal, same dtype) into a new tensor — e.g. GLM's
    /// memories cat(mem [b, m, h], x [b, q, h]) along axis 1.
    public static func concatenate(_ parts: [Tensor], axis: Int) throws -> Tensor {
        let op = "concatenate"
        guard let first = parts.first else { throw EngineError.invalidArgument(op: op, message: "no tensors") }
        guard axis >= 0, axis < first.rank else {
            throw EngineError.invalidArgument(op: op, message: "axis \(axis) for rank \(first.rank)")
        }
        for (i, p) in parts.enumerated() {
            var a = p.shape, b = first.shape
            guard p.dtype == first.dtype, a.count == b.count else {
                throw EngineError.shapeMismatch(op: op, message: "part \(i) \(p) vs part 0 \(first)")
            }
            a.remove(at: axis); b.remove(at: axis)
            guard a == b else { throw EngineError.shapeMismatch(op: op, message: "part \(i) \(p.shape) vs part 0 \(first.shape) off axis \(axis)") }
        }
        var shape = first.shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let out = Tensor(uninitialized: shape, dtype: first.dtype)
        let outer = first.shape[..<axis].reduce(1, *)
        let inner = first.shape[(axis + 1)...].reduce(1, *) * first.dtype.size
        let outRow = shape[axis] * inner
        var col = 0
        for p in parts {
            let chunk = p.shape[axis] * inner
            for o in 0..<outer where chunk > 0 {
                (out.rawPointer + o * outRow + col).copyMemory(from: p.rawPointer + o * chunk, byteCount: chunk)
            }
            col += chunk
        }
        return out
    }
}
