#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a file so that readers only ever see the old file or the complete new one: data goes to a
/// temporary file in the same folder (same file system, so `rename` is atomic), which is fsync'ed,
/// renamed over the target, and then the folder itself is fsync'ed so the rename survives a crash.
/// Abandoned writers (an error, or no `commit()`) remove their temporary file.
public final class AtomicFileWriter {
    public let path: String
    let tempPath: String
    private var fd: Int32
    private var done = false
    /// Bytes written so far (the offset of the next `write`).
    public private(set) var offset = 0

    public init(path: String) throws {
        self.path = path
        let dir = AtomicFileWriter.directory(of: path)
        let base = String(path.split(separator: "/", omittingEmptySubsequences: false).last ?? "")
        tempPath = "\(dir)/.\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CheckpointError(.io, file: path, "cannot create temporary file \(tempPath) (errno \(errno): \(String(cString: strerror(errno))))")
        }
    }

    deinit {
        if !done { abort() }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw CheckpointError(.io, file: path, "write failed at byte \(offset + done) (errno \(errno): \(String(cString: strerror(errno))))")
            }
            done += n
        }
        offset += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Overwrites already-written bytes (used to patch a zip header's CRC after streaming the data).
    public func patch(_ bytes: [UInt8], at position: Int) throws {
        try bytes.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let n = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(position + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CheckpointError(.io, file: path, "pwrite failed (errno \(errno))")
                }
                done += n
            }
        }
    }

    /// Makes the file durable and visible under its final name.
    public func commit() throws {
        guard !done else { return }
        guard fsync(fd) == 0 else {
            throw CheckpointError(.io, file: path, "fsync failed (errno \(errno))")
        }
        close(fd)
        fd = -1
        guard rename(tempPath, path) == 0 else {
            let e = errno
            unlink(tempPath)
            done = true
            throw CheckpointError(.io, file: path, "rename from \(tempPath) failed (errno \(e): \(String(cString: strerror(e))))")
        }
        done = true
        AtomicFileWriter.syncDirectory(AtomicFileWriter.directory(of: path))
    }

    /// Drops the temporary file; the target is left untouched.
    public func abort() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(tempPath)
        done = true
    }

    static func syncDirectory(_ dir: String) {
        let dfd = open(dir, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Writes a small file (config.json, tracker files) atomically in one go.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let w = try AtomicFileWriter(path: path)
        try w.write(bytes)
        try w.commit()
    }

    /// `mkdir -p`.
    public static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw CheckpointError(.io, file: current, "cannot create folder (errno \(errno): \(String(cString: strerror(errno))))")
            }
        }
    }
}
