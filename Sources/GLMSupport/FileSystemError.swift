#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failed system call of `AtomicFileWriter` or `MappedFile`, with everything a caller needs to word
/// its own message. WHY a neutral type: the checkpoint and data modules report file errors in their own
/// error types with different wording; each translates this one (see `FileErrorTranslator`) so the
/// messages users see did not change when the two file helpers were merged.
public struct FileSystemError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was being done when the call failed.
    public enum Operation: Sendable, Equatable {
        /// Creating the writer's temporary file (`temporaryPath`).
        case createTemporary
        /// `write` of the temporary file failed at this byte offset.
        case write(atByte: Int)
        /// `pwrite` over already-written bytes.
        case patch
        case fsync
        /// Renaming the temporary file over `path`.
        case rename
        /// `mkdir` of `path` (one level of `makeDirectories`).
        case makeDirectory
        /// Opening, stat'ing or mapping a file for reading.
        case open, stat, map
        /// The file to map is not a regular file (`errno` is 0).
        case notRegularFile
    }

    public let operation: Operation
    /// The file the caller named (a writer's target, a mapped file, a folder being created).
    public let path: String
    /// A writer's temporary sibling of `path`, else nil.
    public let temporaryPath: String?
    /// `errno` of the failed call (0 where no call failed).
    public let code: Int32
    /// Bytes that were to be mapped (`.map` only).
    public let byteCount: Int

    public init(_ operation: Operation, path: String, temporaryPath: String? = nil, code: Int32, byteCount: Int = 0) {
        self.operation = operation
        self.path = path
        self.temporaryPath = temporaryPath
        self.code = code
        self.byteCount = byteCount
    }

    /// `strerror` of `code`.
    public var reason: String { String(cString: strerror(code)) }

    public var description: String { "\(path): \(operation) failed (errno \(code): \(reason))" }
}

/// Turns a `FileSystemError` into the caller's own error type. The default keeps it as it is.
public typealias FileErrorTranslator = @Sendable (FileSystemError) -> any Error

/// The identity translator.
public let keepFileSystemError: FileErrorTranslator = { $0 }
