#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// Writes a file so that readers only ever see the old file or the complete new one. WHY here: the
/// checkpoint writers, the trainer and the data pipeline all need crash-safe files, and this is the one
/// implementation of the dance: data goes to a temporary sibling `.<name>.tmp-<pid>-<random>` (same
/// folder, so `rename` is atomic; any name containing `.tmp-` is a leftover that sweepers may delete),
/// which is fsync'ed, renamed over the target, and then the folder is fsync'ed (best effort: some file
/// systems refuse it) so the rename survives a crash. Small writes are buffered. A writer dropped without
/// `commit()` (an error on the way) removes its temporary file. Failures are `FileSystemError`s passed
/// through the `errors` translator given at creation.
public final class AtomicFileWriter {
    public let path: String
    public let temporaryPath: String
    private let errors: FileErrorTranslator
    private var fd: Int32
    private var done = false
    private var buffer: [UInt8] = []
    private static let flushSize = 1 << 20
    /// Bytes written so far (the offset of the next `write`).
    public private(set) var offset = 0

    public init(path: String, errors: @escaping FileErrorTranslator = keepFileSystemError) throws {
        self.path = path
        self.errors = errors
        let dir = AtomicFileWriter.directory(of: path)
        let base = String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        temporaryPath = "\(dir)/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw errors(FileSystemError(.createTemporary, path: path, temporaryPath: temporaryPath, code: errno))
        }
    }

    deinit {
        if !done { abort() }
    }

    /// The folder holding `path` ("." for a bare name).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > Self.flushSize { try flush() }
        if bytes.count >= Self.flushSize {
            try writeAll(bytes, at: offset)
        } else {
            if buffer.capacity == 0 { buffer.reserveCapacity(Self.flushSize) }
            buffer.append(contentsOf: bytes)
        }
        offset += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Integers in little-endian byte order.
    public func write<T: FixedWidthInteger>(littleEndian values: [T]) throws {
        try values.map { $0.littleEndian }.withUnsafeBytes { try write($0) }
    }

    /// Overwrites already-written bytes (used to patch a zip header's CRC after streaming the data).
    public func patch(_ bytes: [UInt8], at position: Int) throws {
        try flush()
        try bytes.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(position + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw errors(FileSystemError(.patch, path: path, temporaryPath: temporaryPath, code: errno))
                }
                done += n
            }
        }
    }

    private func flush() throws {
        if buffer.isEmpty { return }
        let start = offset - buffer.count
        try buffer.withUnsafeBytes { try writeAll($0, at: start) }
        buffer.removeAll(keepingCapacity: true)
    }

    /// `start`: the file offset of `bytes[0]`, for the error message.
    private func writeAll(_ bytes: UnsafeRawBufferPointer, at start: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw errors(FileSystemError(.write(atByte: start + done), path: path, temporaryPath: temporaryPath, code: errno))
            }
            done += n
        }
    }

    /// Makes the file durable and visible under its final name.
    public func commit() throws {
        guard !done else { return }
        try flush()
        guard fsync(fd) == 0 else {
            throw errors(FileSystemError(.fsync, path: path, temporaryPath: temporaryPath, code: errno))
        }
        close(fd)
        fd = -1
        guard rename(temporaryPath, path) == 0 else {
            let e = errno
            unlink(temporaryPath)
            done = true
            throw errors(FileSystemError(.rename, path: path, temporaryPath: temporaryPath, code: e))
        }
        done = true
        AtomicFileWriter.syncDirectory(AtomicFileWriter.directory(of: path))
    }

    /// Drops the temporary file; the target is left untouched.
    public func abort() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        done = true
    }

    /// fsync of a folder, so a completed rename in it survives a power cut. Best effort.
    public static func syncDirectory(_ dir: String) {
        let dfd = open(dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Writes a small file (config.json, tracker files) atomically in one go.
    public static func write(_ bytes: [UInt8], to path: String, errors: @escaping FileErrorTranslator = keepFileSystemError) throws {
        let w = try AtomicFileWriter(path: path, errors: errors)
        try w.write(bytes)
        try w.commit()
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String, errors: FileErrorTranslator = keepFileSystemError) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw errors(FileSystemError(.makeDirectory, path: current, code: errno))
            }
        }
    }
}
