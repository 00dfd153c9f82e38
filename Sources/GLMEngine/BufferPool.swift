import Foundation

/// A pool of 64-byte-aligned buffers, bucketed by size class, so that a training step reuses the buffers
/// of the previous step instead of asking the system allocator again (steady state: zero allocations).
///
/// Why size classes: sequence lengths vary during generation; rounding each request up to one of four
/// classes per power of two bounds the waste at 25 % while keeping the number of distinct buckets small.
/// Buffers come back automatically when the last `Storage` referring to them is released (ARC).
/// Thread-safe (one lock around the free lists).
public final class BufferPool: @unchecked Sendable {
    /// The pool every tensor uses unless told otherwise.
    public static let shared = BufferPool()

    private let lock = NSLock()
    private var free: [Int: [UnsafeMutableRawPointer]] = [:]
    private var _allocations = 0
    private var _reuses = 0
    private var _cachedBytes = 0
    private var _liveBytes = 0

    public init() {}

    /// Number of buffers obtained from the system allocator so far.
    public var allocations: Int { lock.withLock { _allocations } }
    /// Number of requests served from the free lists.
    public var reuses: Int { lock.withLock { _reuses } }
    /// Bytes sitting in free lists.
    public var cachedBytes: Int { lock.withLock { _cachedBytes } }
    /// Bytes handed out and not yet returned.
    public var liveBytes: Int { lock.withLock { _liveBytes } }

    /// The size class (bytes, a multiple of 64) that a request of `bytes` is served from.
    public static func sizeClass(_ bytes: Int) -> Int {
        let b = max(bytes, 64)
        if b <= 4096 { return (b + 63) & ~63 }
        // Four classes per power of two: 2^k, 1.25·2^k, 1.5·2^k, 1.75·2^k.
        let top = Int.bitWidth - 1 - (b - 1).leadingZeroBitCount  // floor(log2(b - 1))
        let quarter = 1 << (top - 2)
        return ((b + quarter - 1) / quarter) * quarter
    }

    /// The size class just above `cls` (a class itself).
    static func nextClass(_ cls: Int) -> Int {
        if cls < 4096 { return cls + 64 }
        let top = Int.bitWidth - 1 - (cls - 1).leadingZeroBitCount
        return cls + (1 << (top - 2))
    }

    /// How many classes above its own a request may take a cached buffer from (at most ≈ 1.6× too big).
    ///
    /// WHY: in pre-training the row length of a batch varies (part B grows with the number of spans), so
    /// the same tensor falls into neighbouring classes from step to step; with exact-class reuse only,
    /// every class it ever visited kept its own copy cached.
    static let largerClassesServed = 2

    /// A buffer of at least `bytes` bytes, 64-byte aligned, contents undefined. Returns its class size.
    public func acquire(bytes: Int) -> (UnsafeMutableRawPointer, Int) {
        var cls = Self.sizeClass(bytes)
        lock.lock()
        for _ in 0...Self.largerClassesServed {
            if var list = free[cls], let p = list.popLast() {
                free[cls] = list
                _reuses += 1
                _cachedBytes -= cls
                _liveBytes += cls
                lock.unlock()
                return (p, cls)
            }
            if cls <= 4096 { break }  // small buffers: exact class only (cheap to allocate)
            cls = Self.nextClass(cls)
        }
        cls = Self.sizeClass(bytes)
        _allocations += 1
        _liveBytes += cls
        lock.unlock()
        guard let p = aligned_alloc(64, cls) else {
            fatalError("BufferPool: out of memory allocating \(cls) bytes")
        }
        return (UnsafeMutableRawPointer(p), cls)
    }

    /// Gives a buffer back (called by `Storage.deinit`).
    public func release(_ p: UnsafeMutableRawPointer, classBytes: Int) {
        lock.lock()
        free[classBytes, default: []].append(p)
        _cachedBytes += classBytes
        _liveBytes -= classBytes
        lock.unlock()
    }

    /// Returns every cached buffer to the system.
    public func trim() {
        lock.lock()
        let all = free
        free = [:]
        _cachedBytes = 0
        lock.unlock()
        for (_, list) in all { for p in list { Foundation.free(p) } }
    }
}

/// A reference-counted, 64-byte-aligned block of memory that tensors view. Returned to its pool on deinit.
public final class Storage: @unchecked Sendable {
    /// Start of the buffer.
    public let base: UnsafeMutableRawPointer
    /// Bytes requested (the usable size).
    public let byteCount: Int
    private let classBytes: Int
    private let pool: BufferPool?
    /// Set for `reservedInaccessible` storage: the mapping's length, unmapped on deinit.
    private let mappedBytes: Int
    /// Whether the bytes may be read at all (false: an address range reserved with no access, see
    /// `init(reservedInaccessible:)`).
    public let isAccessible: Bool

    /// A pooled, uninitialised buffer of `byteCount` bytes.
    public init(byteCount: Int, pool: BufferPool = .shared) {
        let (p, cls) = pool.acquire(bytes: byteCount)
        base = p
        self.byteCount = byteCount
        classBytes = cls
        self.pool = pool
        mappedBytes = 0
        isAccessible = true
    }

    /// An address range of `byteCount` bytes with NO memory behind it and no access allowed (mmap
    /// PROT_NONE, MAP_NORESERVE): costs no RAM and no commit charge. WHY: a model decoded from packed
    /// weights installed from a memory-mapped file (`Parameter.installInferenceWeights`) still has
    /// float32 `Parameter`s of the right shapes for the model code, but must not hold their values
    /// (GLM-10B: 40 GB). Readers are guarded (`Parameter.holdsValues`); a reader that slips through
    /// faults instead of computing with garbage.
    public init(reservedInaccessible byteCount: Int) throws {
        let n = max(byteCount, 1)
        let p = mmap(nil, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let p, p != MAP_FAILED else {
            throw EngineError.backend(op: "reserve", message: "cannot reserve \(n) bytes of address space (errno \(errno))")
        }
        base = p
        self.byteCount = byteCount
        classBytes = 0
        pool = nil
        mappedBytes = n
        isAccessible = false
    }

    deinit {
        if mappedBytes > 0 { munmap(base, mappedBytes); return }
        if let pool { pool.release(base, classBytes: classBytes) } else { free(base) }
    }
}
