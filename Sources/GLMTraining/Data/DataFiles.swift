// Low-level file helpers of the data pipeline: atomic writes and read-only memory maps.
//
// WHY POSIX directly: atomicity needs fsync of the file *and* of its directory around a rename, and
// the dataset reader wants a plain read-only mmap whose lifetime it controls; Foundation exposes
// neither precisely on Linux.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An I/O failure with the path and the operation that failed.
public struct DataFileError: Error, CustomStringConvertible, LocalizedError {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { "\(path): \(message)" }
    public var errorDescription: String? { description }

    static func posix(_ path: String, _ operation: String) -> DataFileError {
        DataFileError(path, "\(operation) failed: \(String(cString: strerror(errno)))")
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// Writes a file through a temporary sibling: data goes to `<name>.tmp-<pid>`, is fsynced, then renamed
/// over `<name>` and the directory is fsynced. A reader never sees a half-written file, and a crash
/// at any moment leaves either the old file or the new one.
public final class AtomicFileWriter {
    public let path: String
    private let tempPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private static let flushSize = 1 << 20
    /// FNV-1a of everything written so far.
    public private(set) var checksum = FNV1a64()

    public init(path: String) throws {
        self.path = path
        tempPath = path + ".tmp-\(getpid())"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        if fd < 0 { throw DataFileError.posix(tempPath, "open for writing") }
        buffer.reserveCapacity(Self.flushSize)
    }

    deinit {
        if fd >= 0 { close(fd); unlink(tempPath) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        checksum.update(bytes)
        if buffer.count + bytes.count > Self.flushSize { try flush() }
        if bytes.count >= Self.flushSize {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write<T: FixedWidthInteger>(littleEndian values: [T]) throws {
        try values.map { $0.littleEndian }.withUnsafeBytes { try write($0) }
    }

    private func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw DataFileError.posix(tempPath, "write")
            }
            offset += n
        }
    }

    /// Flushes, fsyncs, renames into place and fsyncs the directory.
    public func commit() throws {
        try flush()
        if fsync(fd) != 0 { throw DataFileError.posix(tempPath, "fsync") }
        close(fd)
        fd = -1
        if rename(tempPath, path) != 0 { throw DataFileError.posix(path, "rename from \(tempPath)") }
        try syncDirectory(of: path)
    }

    /// Writes `data` to `path` atomically in one call.
    public static func write(_ data: Data, to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.write([UInt8](data))
        try writer.commit()
    }
}

/// fsync of the directory holding `path`, so a completed rename survives a power cut.
func syncDirectory(of path: String) throws {
    let dir = (path as NSString).deletingLastPathComponent
    let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY)
    if dfd < 0 { throw DataFileError.posix(dir, "open directory") }
    defer { close(dfd) }
    _ = fsync(dfd)  // some file systems refuse fsync on directories; the rename is still in place
}

/// A read-only memory map of a whole file. Immutable after creation, so it may be shared by threads.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw DataFileError.posix(path, "open") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw DataFileError.posix(path, "stat") }
        count = Int(st.st_size)
        if count == 0 {
            base = nil
        } else {
            let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
            if p == MAP_FAILED || p == nil { throw DataFileError.posix(path, "mmap") }
            base = p
        }
    }

    deinit {
        if let base { munmap(base, count) }
    }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// 64-bit FNV-1a, used to fingerprint files and jobs (not for security).
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325
    public init() {}
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        value = h
    }
    public mutating func update(_ string: String) {
        var s = string
        s.withUTF8 { update(UnsafeRawBufferPointer($0)) }
        var separator: UInt8 = 0  // so "ab"+"c" differs from "a"+"bc"
        withUnsafeBytes(of: &separator) { update($0) }
    }
    public var hex: String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
