import GLMEngine
import GLM

/// Position of one fed token: (position, block position), GLM's 2-D position ids.
struct TokenPosition: Equatable {
    var position: Int
    var block: Int
}

/// The incremental forward pass the decoding loops drive, over R rows (prompts or beams) that all hold
/// the same number of cached tokens. Two implementations: the K/V cache (fast) and the original's
/// hidden-state memories (slow, for proving the cache path). Not thread-safe.
protocol DecodingBackend: AnyObject {
    var rows: Int { get }
    /// Tokens held per row (padding included).
    var length: Int { get }
    /// Feeds `ids` (R rows of q tokens each) after what is held, with `mask` (`.sep` or an explicit
    /// [R, 1, q, length + q] mask) and returns the logits of each row's last token, [R, 1, V].
    func feed(ids: [[Int]], positions: [[TokenPosition]], mask: GLMMask, logits: Bool) throws -> Tensor?
    /// Row i becomes old row `rows[i]` (reorder beams, expand one row to many, drop finished rows).
    func select(rows: [Int]) throws
    /// Forgets everything after the first `length` tokens.
    func truncate(to length: Int) throws
}

extension DecodingBackend {
    func idsTensor(_ ids: [[Int]]) throws -> Tensor {
        let q = ids.first?.count ?? 0
        guard ids.allSatisfy({ $0.count == q }) else { throw GenerationError.badInput("rows of different lengths fed together") }
        return try Tensor(shape: [ids.count, q], ints: ids.flatMap { $0.map { Int32(truncatingIfNeeded: $0) } })
    }

    func positionsTensor(_ positions: [[TokenPosition]]) throws -> Tensor {
        let q = positions.first?.count ?? 0
        var flat: [Int32] = []
        flat.reserveCapacity(positions.count * 2 * q)
        for row in positions {
            flat += row.map { Int32($0.position) }
            flat += row.map { Int32($0.block) }
        }
        return try Tensor(shape: [positions.count, 2, q], ints: flat)
    }
}

/// Keys and values cached per layer; the tape sends the GEMMs through the parameters' packed copies
/// (every product in `packedWeights` storage when set, else only decode-sized ones in float32); the cache
/// holds `kvCacheStorage` elements (`GLMGenerator.kvCacheStorage`).
final class KVCacheBackend: DecodingBackend {
    let model: GLMModel
    private(set) var cache: GLMKVCache
    private let tape: Tape

    init(model: GLMModel, packedWeights: GEMMInputType?, kvCacheStorage: DType, rows: Int, capacity: Int) {
        self.model = model
        tape = .inference(packedWeights: packedWeights)
        cache = GLMKVCache(model: model, batch: rows, capacity: capacity, storage: kvCacheStorage)
    }

    var rows: Int { cache.batch }
    var length: Int { cache.length }

    func feed(ids: [[Int]], positions: [[TokenPosition]], mask: GLMMask, logits: Bool) throws -> Tensor? {
        let out = try model.forward(ids: try idsTensor(ids), positionIds: try positionsTensor(positions), mask: mask,
                                    cache: cache, logits: logits ? .last : LogitsSelection.none, tape: tape)
        return out.logits?.value
    }

    func select(rows: [Int]) throws {
        if rows == Array(0..<cache.batch) { return }
        cache = try cache.gathered(rows: rows)
    }

    func truncate(to length: Int) throws { cache.truncate(to: length) }
}

/// The original's way (generate_samples.py / the seq2seq evaluator): each layer's input is kept as
/// memory [R, m, h] and the whole memory is re-normalised and re-projected at every step.
final class MemoryBackend: DecodingBackend {
    let model: GLMModel
    private(set) var mems: [Tensor] = []
    private(set) var rows: Int
    private let tape = Tape.inference()

    init(model: GLMModel, rows: Int) {
        self.model = model
        self.rows = rows
    }

    var length: Int { mems.first?.shape[1] ?? 0 }

    func feed(ids: [[Int]], positions: [[TokenPosition]], mask: GLMMask, logits: Bool) throws -> Tensor? {
        let out = try model.forward(ids: try idsTensor(ids), positionIds: try positionsTensor(positions), mask: mask,
                                    mems: mems, returnMemory: true, logits: logits ? .last : .none, tape: tape)
        mems = out.mems
        return out.logits?.value
    }

    func select(rows newRows: [Int]) throws {
        guard newRows.allSatisfy({ $0 >= 0 && $0 < rows }) else {
            throw GenerationError.badInput("memory rows \(newRows) out of range for \(rows) rows")
        }
        mems = mems.map { mem in
            let m = mem.shape[1], h = mem.shape[2]
            let out = Tensor(uninitialized: [newRows.count, m, h])
            for (i, r) in newRows.enumerated() {
                (out.floats + i * m * h).update(from: mem.floats + r * m * h, count: m * h)
            }
            return out
        }
        rows = newRows.count
    }

    func truncate(to newLength: Int) throws {
        guard newLength < length else { return }
        mems = mems.map { mem in
            let b = mem.shape[0], m = mem.shape[1], h = mem.shape[2]
            let out = Tensor(uninitialized: [b, newLength, h])
            for i in 0..<b { (out.floats + i * newLength * h).update(from: mem.floats + i * m * h, count: newLength * h) }
            return out
        }
    }
}
