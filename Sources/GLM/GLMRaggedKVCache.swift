import GLMEngine

/// Continuous batching: one K/V cache per sequence, rows of different lengths decoded together.
///
/// `GLMKVCache` holds one length for all its rows, so rows that started at different times cannot share
/// it without padding. Here every row keeps its own one-row `GLMKVCache` (filled by a normal
/// `forward(ids:cache:)` prompt pass), and a decode step feeds ONE new token per row: the embedding,
/// LayerNorms, QKV / dense / MLP GEMMs and the logits run over all rows at once ([R, 1, h] activations,
/// M = R in every GEMM); only attention runs row by row, each query against its own row's keys. Rows
/// join (`append`) and leave (`remove`) between steps, so the batch changes at every step.
///
/// The math per row is the one-row cache path's: the new token attends every cached token of its row and
/// itself (the `.sep([0])` mask of a generated token), so a row decoded here gives the same logits as the
/// same row decoded alone up to GEMM blocking (same ids under greedy decoding; tested).
public final class GLMRaggedKVCache {
    /// The rows in batch order: row i of a step's ids/positions is `rows[i]`.
    public private(set) var rows: [GLMKVCache] = []
    /// Attention masks of all ones, one per key length seen (a generated token sees its whole row).
    private var onesMasks: [Int: Tensor] = [:]

    public init() {}

    public var count: Int { rows.count }

    /// Adds a row (usually a one-row cache that a prompt pass just filled) at the end of the batch.
    public func append(_ row: GLMKVCache) throws {
        guard row.batch == 1 else { throw GLMError.badInput("a ragged cache row must be a one-row cache, got batch \(row.batch)") }
        rows.append(row)
    }

    /// Drops the rows at `indices` (finished or cancelled sequences); the others keep their order.
    public func remove(at indices: Set<Int>) {
        rows = rows.enumerated().filter { !indices.contains($0.offset) }.map(\.element)
    }

    /// Row `index`'s cache length (tokens cached).
    public func length(ofRow index: Int) -> Int { rows[index].length }

    /// Attention of one new token per row: qkv [R, 1, 3h] (columns Q | K | V) → context [R, 1, h].
    /// Appends each row's key and value to its own cache first, as the one-row cache path does.
    func attend(layer: Int, qkv: Variable, heads: Int, hidden h: Int, tape: Tape) throws -> Variable {
        let r = rows.count
        guard qkv.shape == [r, 1, 3 * h] else {
            throw GLMError.badInput("a ragged decode step feeds one token per row: qkv \(qkv.shape), expected [\(r), 1, \(3 * h)]")
        }
        let out = Tensor(uninitialized: [r, 1, h])
        let query = Tensor(uninitialized: [1, 1, h])
        for (i, row) in rows.enumerated() {
            let m = row.length
            guard m + 1 <= row.capacity else {
                throw GLMError.badInput("row \(i): \(m) cached + 1 new token exceed its cache capacity \(row.capacity)")
            }
            let src = qkv.value.floats + i * 3 * h
            row.store(layer: layer, row: m, qkvRow: src)
            query.floats.update(from: src, count: h)
            let ctx = try row.attend(layer: layer, query: AttentionOperand(Variable(query)), heads: heads, queryLength: 1,
                                     keyLength: m + 1, mask: onesMask(keys: m + 1), dropout: 0, tape: tape)
            (out.floats + i * h).update(from: ctx.value.floats, count: h)
        }
        return Variable(out)
    }

    /// Every row now holds one more token (after all layers ran).
    func advance() { for row in rows { row.advance(by: 1) } }

    private func onesMask(keys k: Int) -> Tensor {
        if let m = onesMasks[k] { return m }
        let m = Tensor(uninitialized: [1, 1, 1, k])
        m.floats.update(repeating: 1, count: k)
        onesMasks[k] = m
        return m
    }
}

extension GLMModel {
    /// One decode step of continuous batching: ids [R, 1] (one new token per row of `cache`), position
    /// ids [R, 2, 1]. Every GEMM runs over the R rows at once; attention runs per row on its own keys.
    /// Returns the logits [R, 1, V] of the new tokens; each row's cache grows by one token.
    public func forward(ids: Tensor, positionIds: Tensor, raggedCache cache: GLMRaggedKVCache,
                        tape: Tape = .inference()) throws -> GLMOutput {
        guard !tape.isRecording else { throw GLMError.badInput("the ragged K/V-cache forward is inference only") }
        guard ids.dtype == .int32, ids.shape == [cache.count, 1] else {
            throw GLMError.badInput("ids must be int32 [\(cache.count), 1] for this ragged cache, got \(ids)")
        }
        _ = try checkInput(ids: ids, positionIds: positionIds)
        return try forward(ids: ids, positionIds: positionIds, mask: .sep([0]), context: .ragged(cache),
                           returnMemory: false, logits: .last, tape: tape)
    }
}
