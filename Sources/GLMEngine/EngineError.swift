/// Every recoverable failure of the engine: bad shapes, bad ids, a failing GEMM backend.
/// Messages name the operation and the tensors involved so a caller can tell what went wrong.
public enum EngineError: Error, CustomStringConvertible, Equatable {
    /// Shapes or dtypes that do not fit the operation.
    case shapeMismatch(op: String, message: String)
    /// An argument out of its domain (negative size, probability ≥ 1, …).
    case invalidArgument(op: String, message: String)
    /// An embedding/target id outside [0, V).
    case idOutOfRange(op: String, message: String)
    /// The GEMM backend (oneDNN) reported an error.
    case backend(op: String, message: String)
    /// Autograd misuse (backward on a non-scalar, on a tape that did not record, …).
    case autograd(String)

    public var description: String {
        switch self {
        case let .shapeMismatch(op, m): return "\(op): shape mismatch: \(m)"
        case let .invalidArgument(op, m): return "\(op): invalid argument: \(m)"
        case let .idOutOfRange(op, m): return "\(op): id out of range: \(m)"
        case let .backend(op, m): return "\(op): GEMM backend error: \(m)"
        case let .autograd(m): return "autograd: \(m)"
        }
    }
}
