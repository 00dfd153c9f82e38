import GLMSupport

extension CheckpointError {
    /// The checkpoint wording of a failed file operation (`AtomicFileWriter`, `MappedFile`): every
    /// checkpoint reader and writer passes this translator, so file failures are `CheckpointError`s.
    public static let fromFileSystem: FileErrorTranslator = { CheckpointError($0) }

    /// The message of `e` as the checkpoint module words it.
    public init(_ e: FileSystemError) {
        switch e.operation {
        case .createTemporary:
            self.init(.io, file: e.path, "cannot create temporary file \(e.temporaryPath ?? "") (errno \(e.code): \(e.reason))")
        case .write(let at):
            self.init(.io, file: e.path, "write failed at byte \(at) (errno \(e.code): \(e.reason))")
        case .patch:
            self.init(.io, file: e.path, "pwrite failed (errno \(e.code))")
        case .fsync:
            self.init(.io, file: e.path, "fsync failed (errno \(e.code))")
        case .rename:
            self.init(.io, file: e.path, "rename from \(e.temporaryPath ?? "") failed (errno \(e.code): \(e.reason))")
        case .makeDirectory:
            self.init(.io, file: e.path, "cannot create folder (errno \(e.code): \(e.reason))")
        case .open:
            self.init(.io, file: e.path, "cannot open file (errno \(e.code): \(e.reason))")
        case .stat:
            self.init(.io, file: e.path, "cannot stat file (errno \(e.code))")
        case .notRegularFile:
            self.init(.io, file: e.path, "not a regular file")
        case .map:
            self.init(.io, file: e.path, "mmap of \(e.byteCount) bytes failed (errno \(e.code))")
        }
    }
}

extension MappedFile {
    /// Maps a checkpoint file; failures are `CheckpointError`s.
    public convenience init(checkpoint path: String) throws {
        try self.init(path: path, errors: CheckpointError.fromFileSystem)
    }

    /// A bounds-checked window; throws (never traps) when the range leaves the file.
    public func slice(offset: Int, count n: Int, what: String) throws -> UnsafeRawBufferPointer {
        guard contains(offset: offset, count: n) else {
            throw CheckpointError(.outOfBounds, file: path,
                                  "\(what): bytes \(offset)..<\(offset &+ n) lie outside the file (\(count) bytes)")
        }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
    }
}

extension AtomicFileWriter {
    /// A writer of a checkpoint file; failures are `CheckpointError`s.
    public convenience init(checkpoint path: String) throws {
        try self.init(path: path, errors: CheckpointError.fromFileSystem)
    }
}
