/// Every failure of the checkpoint readers and writers is a `CheckpointError`: it always names the file
/// (and where it makes sense the tensor, entry or byte offset) so that a user can tell a bad download from a bug.
public struct CheckpointError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A coarse category, so that tests and callers can react without parsing the message.
    public enum Kind: String, Sendable {
        case io              // the file cannot be opened, read, written
        case truncated       // the data ends before a structure it announces
        case badMagic        // not the container it claims to be
        case malformed       // a structure whose fields contradict each other or the file
        case unsupported     // a valid feature we deliberately do not implement (e.g. deflate)
        case forbidden       // a pickle global or opcode outside the allow-list
        case outOfBounds     // an offset, size or stride that points outside its storage
        case missingKey      // a required tensor or entry is absent
        case unexpectedKey   // a tensor that the model does not have
        case shapeMismatch   // a tensor whose shape or dtype does not fit
        case config          // a config.json or user option that is missing or contradictory
    }

    public let kind: Kind
    public let file: String
    public let problem: String

    public init(_ kind: Kind, file: String, _ problem: String) {
        self.kind = kind
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}
