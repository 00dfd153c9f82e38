import Foundation

/// Errors of the trainer, its checkpoints and its options. Messages name the file, option or step.
public enum TrainingError: Error, CustomStringConvertible, LocalizedError, Equatable {
    case invalidOption(String)
    /// A checkpoint folder or file is missing, incomplete or inconsistent.
    case checkpoint(path: String, String)
    /// `--resume` with an option that would change the run's math.
    case resumeConflict(String)
    case data(String)

    public var description: String {
        switch self {
        case .invalidOption(let m): return m
        case .checkpoint(let path, let m): return "checkpoint \(path): \(m)"
        case .resumeConflict(let m): return "cannot resume: \(m)"
        case .data(let m): return "training data: \(m)"
        }
    }

    public var errorDescription: String? { description }
}
