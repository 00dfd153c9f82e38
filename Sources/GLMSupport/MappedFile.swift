#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file. WHY: checkpoints and token datasets are many gigabytes;
/// mapping them lets readers view and convert data lazily, so memory follows what is actually touched.
/// Checkpoints, the trainer's resume checks and the data pipeline all share this one class.
/// Immutable after `init`, hence safe to share between threads.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeRawPointer?
    private let isMapped: Bool

    /// Maps `path`. `requireRegularFile`: refuse folders and devices up front (`.notRegularFile`) instead
    /// of letting `mmap` fail on them. Failures go through `errors`.
    public init(path: String, requireRegularFile: Bool = true, errors: FileErrorTranslator = keepFileSystemError) throws {
        self.path = path
        isMapped = true
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw errors(FileSystemError(.open, path: path, code: errno)) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw errors(FileSystemError(.stat, path: path, code: errno)) }
        if requireRegularFile && (info.st_mode & S_IFMT) != S_IFREG {
            throw errors(FileSystemError(.notRegularFile, path: path, code: 0))
        }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        let p = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw errors(FileSystemError(.map, path: path, code: errno, byteCount: count))
        }
        base = UnsafeRawPointer(p)
    }

    /// Anonymous copy of `bytes` (not a mapping): lets tests and in-memory callers use the same readers.
    public init(bytes: [UInt8], name: String) {
        path = name
        count = bytes.count
        isMapped = false
        if bytes.isEmpty { base = nil; return }
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        guard let base else { return }
        if isMapped { munmap(UnsafeMutableRawPointer(mutating: base), count) } else { base.deallocate() }
    }

    /// The whole file. Valid as long as `self` is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Tells the kernel it may drop the pages of `[offset, offset + n)` (whole pages inside the range
    /// only). They are clean file pages of a read-only mapping, so a later access simply re-reads them;
    /// converters call this after streaming a tensor so that resident memory stays near one tensor.
    public func dropPages(offset: Int, count n: Int) {
        guard isMapped, let base, n > 0, offset >= 0, offset + n <= count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (offset + page - 1) / page * page
        let end = (offset + n) / page * page
        if end > start { _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, MADV_DONTNEED) }
    }

    /// Whether `[offset, offset + n)` lies inside the file (overflow-safe).
    public func contains(offset: Int, count n: Int) -> Bool {
        offset >= 0 && n >= 0 && offset <= count && n <= count - offset
    }
}
