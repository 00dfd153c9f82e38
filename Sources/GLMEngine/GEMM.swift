import CGLMOneDNN

/// Element type of GEMM inputs (outputs are always float32).
/// `.int8` is a storage type of packed linear weights only (`packLinear`, `Tape.inference(packedWeights:)`):
/// weight-only int8 with per-output-channel scales, activations and accumulation float32. Strided matmuls
/// take float32 or bfloat16 operands.
public enum GEMMInputType: Sendable {
    case float32
    case bfloat16
    case int8

    /// CDNNL's type code; nil for `.int8` (not a oneDNN input type here).
    var code: Int32? {
        switch self {
        case .float32: return Int32(GLMD_F32)
        case .bfloat16: return Int32(GLMD_BF16)
        case .int8: return nil
        }
    }

    /// Bytes of one stored weight in a packed copy (int8's per-row scale not counted).
    public var bytesPerWeight: Int {
        switch self {
        case .float32: return 4
        case .bfloat16: return 2
        case .int8: return 1
        }
    }

    /// The name the command line uses: fp32, bf16, int8.
    public var shortName: String {
        switch self {
        case .float32: return "fp32"
        case .bfloat16: return "bf16"
        case .int8: return "int8"
        }
    }

    /// Parses a command-line name (fp32/float32, bf16/bfloat16, int8).
    public init?(shortName: String) {
        switch shortName {
        case "fp32", "float32": self = .float32
        case "bf16", "bfloat16": self = .bfloat16
        case "int8": self = .int8
        default: return nil
        }
    }
}

/// A strided matrix-multiply problem over up to two batch dimensions:
/// C[b0, b1] (M, N) = alpha · A[b0, b1] (M, K) · B[b0, b1] (K, N) + beta · C[b0, b1].
/// Strides are element steps along (batch0, batch1, row, column) of the LOGICAL operand, so a transposed
/// operand is just swapped row/column strides, a head of a [b, s, n·d] tensor is (s·n·d, d, n·d, 1), and a
/// column block of a fused QKV tensor is an offset pointer with the QKV row stride. Nothing is copied.
public struct StridedMatmul: Sendable, Equatable {
    public var batch0: Int, batch1: Int, m: Int, n: Int, k: Int
    public var strideA: [Int], strideB: [Int], strideC: [Int]

    public init(batch0: Int = 1, batch1: Int = 1, m: Int, n: Int, k: Int,
                strideA: [Int], strideB: [Int], strideC: [Int]) {
        self.batch0 = batch0; self.batch1 = batch1; self.m = m; self.n = n; self.k = k
        self.strideA = strideA; self.strideB = strideB; self.strideC = strideC
    }

    var flops: Double { 2 * Double(batch0 * batch1) * Double(m) * Double(n) * Double(k) }
}

/// Weights packed once for repeated y = x·Wᵀ + b (inference; decode shapes M = 1..8 and prompts).
public protocol PackedLinearWeights: AnyObject {
    var outFeatures: Int { get }
    var inFeatures: Int { get }
    /// y (rows, outFeatures) = x (rows, inFeatures) · Wᵀ + bias. Not reentrant for one object.
    func apply(x: UnsafePointer<Float>, rows: Int, y: UnsafeMutablePointer<Float>) throws
}

/// The one interface every matrix product of SwiftGLM goes through. Model code never calls oneDNN; a GPU
/// (or any other) backend implements this protocol and is handed to `Tape(backend:)`.
/// All matrices are row-major float32 unless a `GEMMInputType` says bfloat16.
public protocol GEMMBackend: AnyObject, Sendable {
    var name: String { get }
    /// C (m, n) = alpha·op(A)·op(B) + beta·C; op(A) = A (m, k) or Aᵀ with A (k, m) when transA; same for B.
    func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) throws
    /// The strided (batched) product; A and B hold `input` elements, C is float32.
    func matmul(_ p: StridedMatmul, input: GEMMInputType, a: UnsafeRawPointer, b: UnsafeRawPointer,
                c: UnsafeMutablePointer<Float>, alpha: Float, beta: Float) throws
    /// Packs W (outFeatures, inFeatures) float32 [+ bias] once, stored as `storage` type (`.int8`: quantised
    /// per output channel, see `Int8PackedLinear`).
    func packLinear(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                    inFeatures: Int, storage: GEMMInputType) throws -> any PackedLinearWeights
}

/// The oneDNN backend (through the C wrapper CDNNL): dnnl_sgemm, the matmul primitive, packed weights.
public final class OneDNNBackend: GEMMBackend {
    public static let shared = OneDNNBackend()
    public let name = "oneDNN"

    public init() {}

    static func check(_ rc: Int32, _ op: String) throws {
        if rc != 0 { throw EngineError.backend(op: op, message: String(cString: glmd_last_error())) }
    }

    public func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) throws {
        try Self.check(glmd_sgemm(transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda),
                                  b, Int64(ldb), beta, c, Int64(ldc)), "sgemm \(m)×\(n)×\(k)")
    }

    public func matmul(_ p: StridedMatmul, input: GEMMInputType, a: UnsafeRawPointer, b: UnsafeRawPointer,
                       c: UnsafeMutablePointer<Float>, alpha: Float, beta: Float) throws {
        if p.batch0 == 0 || p.batch1 == 0 || p.m == 0 || p.n == 0 { return }
        if p.k == 0 {
            // Nothing to multiply: C = beta·C over the strided C (rare; keeps oneDNN away from K = 0).
            for i0 in 0..<p.batch0 { for i1 in 0..<p.batch1 { for r in 0..<p.m { for col in 0..<p.n {
                let o = i0 * p.strideC[0] + i1 * p.strideC[1] + r * p.strideC[2] + col * p.strideC[3]
                c[o] = beta == 0 ? 0 : beta * c[o]
            } } } }
            return
        }
        guard let code = input.code else {
            throw EngineError.backend(op: "matmul", message: "\(input) is a packed-weight storage type, not a matmul input type")
        }
        var s = Self.cShape(p)
        try Self.check(glmd_matmul(code, &s, a, b, c, alpha, beta),
                       "matmul \(p.batch0)×\(p.batch1)×\(p.m)×\(p.n)×\(p.k)")
    }

    /// oneDNN's implementation name for a problem (tests make sure no reference kernel is used).
    public func implementationName(_ p: StridedMatmul, input: GEMMInputType, alpha: Float = 1, beta: Float = 0) -> String? {
        guard let code = input.code else { return nil }
        var s = Self.cShape(p)
        guard let name = glmd_matmul_impl(code, &s, alpha, beta) else { return nil }
        return String(cString: name)
    }

    static func cShape(_ p: StridedMatmul) -> glmd_matmul_shape {
        var s = glmd_matmul_shape()
        s.batch0 = Int64(p.batch0); s.batch1 = Int64(p.batch1)
        s.M = Int64(p.m); s.N = Int64(p.n); s.K = Int64(p.k)
        s.strideA = (Int64(p.strideA[0]), Int64(p.strideA[1]), Int64(p.strideA[2]), Int64(p.strideA[3]))
        s.strideB = (Int64(p.strideB[0]), Int64(p.strideB[1]), Int64(p.strideB[2]), Int64(p.strideB[3]))
        s.strideC = (Int64(p.strideC[0]), Int64(p.strideC[1]), Int64(p.strideC[2]), Int64(p.strideC[3]))
        return s
    }

    public func packLinear(weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                           inFeatures: Int, storage: GEMMInputType) throws -> any PackedLinearWeights {
        guard let code = storage.code else {
            // oneDNN 2.6 has no weight-only int8 product: the int8 pack runs on CGLMKernels' kernel.
            return try Int8PackedLinear(weight: weight, bias: bias, outFeatures: outFeatures, inFeatures: inFeatures)
        }
        guard let h = glmd_packed_linear_create(weight, bias, Int64(outFeatures), Int64(inFeatures), code) else {
            throw EngineError.backend(op: "packLinear \(outFeatures)×\(inFeatures)",
                                      message: String(cString: glmd_last_error()))
        }
        return OneDNNPackedLinear(handle: h, outFeatures: outFeatures, inFeatures: inFeatures)
    }
}

/// oneDNN-packed weights (owned; destroyed with the object).
final class OneDNNPackedLinear: PackedLinearWeights {
    let handle: OpaquePointer
    let outFeatures: Int
    let inFeatures: Int

    init(handle: OpaquePointer, outFeatures: Int, inFeatures: Int) {
        self.handle = handle
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
    }

    deinit { glmd_packed_linear_destroy(handle) }

    func apply(x: UnsafePointer<Float>, rows: Int, y: UnsafeMutablePointer<Float>) throws {
        try OneDNNBackend.check(glmd_packed_linear_run(handle, x, Int64(rows), y),
                                "packed linear \(rows)×\(outFeatures)×\(inFeatures)")
    }
}
