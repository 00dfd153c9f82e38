// File helpers of the data pipeline: its error type, and the shared atomic writer and memory map
// (GLMSupport) set up to report failures as `DataFileError`s.
import Foundation
import GLMSupport

/// An I/O failure with the path and the operation that failed.
public struct DataFileError: Error, CustomStringConvertible, LocalizedError {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
    public var errorDescription: String? { description }

    /// The data pipeline's wording of a failed file operation: "<path>: <operation> failed: <reason>".
    init(_ e: FileSystemError) {
        let temporary = e.temporaryPath ?? e.path
        switch e.operation {
        case .createTemporary: self.init(temporary, "open for writing failed: \(e.reason)")
        case .write: self.init(temporary, "write failed: \(e.reason)")
        case .patch: self.init(temporary, "pwrite failed: \(e.reason)")
        case .fsync: self.init(temporary, "fsync failed: \(e.reason)")
        case .rename: self.init(e.path, "rename from \(temporary) failed: \(e.reason)")
        case .makeDirectory: self.init(e.path, "mkdir failed: \(e.reason)")
        case .open: self.init(e.path, "open failed: \(e.reason)")
        case .stat: self.init(e.path, "stat failed: \(e.reason)")
        case .map: self.init(e.path, "mmap failed: \(e.reason)")
        case .notRegularFile: self.init(e.path, "not a regular file")
        }
    }

    static let fromFileSystem: FileErrorTranslator = { DataFileError($0) }
}

extension AtomicFileWriter {
    /// A writer of a data-pipeline file; failures are `DataFileError`s.
    convenience init(dataFile path: String) throws {
        try self.init(path: path, errors: DataFileError.fromFileSystem)
    }

    /// Writes `data` to `path` atomically in one call; failures are `DataFileError`s.
    static func writeDataFile(_ data: Data, to path: String) throws {
        try write([UInt8](data), to: path, errors: DataFileError.fromFileSystem)
    }
}

extension MappedFile {
    /// Maps a data-pipeline file (any file `mmap` accepts); failures are `DataFileError`s.
    convenience init(dataFile path: String) throws {
        try self.init(path: path, requireRegularFile: false, errors: DataFileError.fromFileSystem)
    }
}

/// An atomic data file that also fingerprints what is written (FNV-1a), for the dataset header's
/// checksums that `TokenDataset.verify()` checks.
final class FingerprintedFileWriter {
    private let file: AtomicFileWriter
    /// FNV-1a of everything written so far.
    private(set) var checksum = FNV1a64()

    init(path: String) throws { file = try AtomicFileWriter(dataFile: path) }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        checksum.update(bytes)
        try file.write(bytes)
    }

    func write<T: FixedWidthInteger>(littleEndian values: [T]) throws {
        try values.map { $0.littleEndian }.withUnsafeBytes { try write($0) }
    }

    func commit() throws { try file.commit() }
}
