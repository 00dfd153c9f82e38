import GLMEngine
import GLM
import GLMTokenizers

/// Log-probability of a chosen token and of the most likely alternatives (OpenAI `logprobs`), from the
/// log-softmax of the model's raw logits (before temperature, top-k/top-p and constraints).
public struct TokenLogprobs: Sendable, Equatable {
    public var logprob: Float
    /// The `top` most likely ids with their log-probabilities, most likely first.
    public var top: [(id: Int, logprob: Float)]

    public static func == (a: TokenLogprobs, b: TokenLogprobs) -> Bool {
        a.logprob == b.logprob && a.top.map(\.id) == b.top.map(\.id) && a.top.map(\.logprob) == b.top.map(\.logprob)
    }
}

/// What a row of a continuous batch reports, in order.
public enum BatchRowEvent: Sendable {
    /// A token was generated in blank `blank`; `text` is the new part of the blank's text (see
    /// `IncrementalDetokenizer`); `logprobs` when the row asked for them.
    case token(blank: Int, id: Int, text: String, logprobs: TokenLogprobs?)
    /// A blank ended; `tail` is the last piece of its text not yet reported by `.token` (usually "").
    case blankFinished(index: Int, blank: FilledBlank, tail: String)
    /// The prompt is done: the same result `GLMGenerator.generate` returns for it.
    case finished(GenerationResult)
    /// The batch's forward pass failed; the row is gone.
    case failed(String)
}

/// Continuous batching of greedy/sampling blank filling: sequences join and leave the running batch at
/// every step. `add` runs a new prompt's context pass on its own one-row K/V cache; `step` feeds one token
/// per running row through `GLMModel.forward(raggedCache:)` (all GEMMs over all rows, attention per row);
/// a row whose last blank ends, or that `remove` drops (cancelled, disconnected, past its deadline), leaves
/// at once and its cache is freed.
///
/// Each row follows `GLMGenerator.generate`'s rules exactly (`BlankRowState`, `BlankFiller.choose`, the same
/// position plan, its own options and seeded generator), so greedy rows give the ids the generator gives
/// the prompt alone. Not thread-safe: one thread drives it (and must not use the generator meanwhile).
public final class ContinuousBatchDecoder {
    public let generator: GLMGenerator
    private let cache = GLMRaggedKVCache()
    private let tape: Tape

    private final class Row {
        let id: Int
        let prepared: PreparedPrompt
        let filler: BlankFiller
        var state: BlankRowState
        var detokenizer: IncrementalDetokenizer
        let logprobs: Int?
        let onEvent: (BatchRowEvent) -> Void

        init(id: Int, prepared: PreparedPrompt, filler: BlankFiller, state: BlankRowState, tokenizer: any Tokenizer,
             logprobs: Int?, onEvent: @escaping (BatchRowEvent) -> Void) {
            self.id = id; self.prepared = prepared; self.filler = filler; self.state = state
            detokenizer = IncrementalDetokenizer(tokenizer: tokenizer)
            self.logprobs = logprobs; self.onEvent = onEvent
        }
    }
    private var rows: [Row] = []
    private var nextID = 0
    private var scratch: [Float] = []

    public init(generator: GLMGenerator) {
        self.generator = generator
        tape = .inference(packedWeights: generator.packedWeights)
    }

    /// Running rows.
    public var count: Int { rows.count }
    /// Ids of the running rows, in batch order.
    public var rowIDs: [Int] { rows.map(\.id) }

    /// Checks `options` as `GLMGenerator.generate` does (beam search and the memory path are refused:
    /// they do not batch continuously). Returns them with the max length clamped to the model.
    public func checkedOptions(_ options: GenerationOptions) throws -> GenerationOptions {
        if case .beam = options.strategy { throw GenerationError.invalidOptions("continuous batching decodes greedily or by sampling, not by beam search") }
        guard options.path == .kvCache else { throw GenerationError.invalidOptions("continuous batching runs on the K/V cache") }
        return try generator.checked(options)
    }

    /// Runs the prompt's context pass and adds it to the batch (it decodes from the next `step`). A prompt
    /// without a mask finishes at once (with the generator's warning) and returns nil.
    /// - logprobs: report each token's log-probability and this many alternatives (nil: none).
    @discardableResult
    public func add(_ prepared: PreparedPrompt, options userOptions: GenerationOptions, logprobs: Int? = nil,
                    onEvent: @escaping (BatchRowEvent) -> Void) throws -> Int? {
        let options = try checkedOptions(userOptions)
        let filler = generator.filler(options)
        if prepared.maskPositions.isEmpty {
            onEvent(.finished(generator.assemble(prepared, [])))
            return nil
        }
        let input = BlankFillingInput(contextIds: prepared.contextIds, maskPositions: prepared.maskPositions)
        let plan = filler.plan(input)
        let n = input.contextIds.count
        let row = GLMKVCache(model: generator.model, batch: 1, capacity: n + input.maskPositions.count * (options.maxLength + 1),
                             storage: generator.kvCacheStorage)
        let ids = try Tensor(shape: [1, n], ints: input.contextIds.map { Int32(truncatingIfNeeded: $0) })
        var flat = plan.context.map { Int32($0.position) }
        flat += plan.context.map { Int32($0.block) }
        _ = try generator.model.forward(ids: ids, positionIds: try Tensor(shape: [1, 2, n], ints: flat), mask: .sep([n]),
                                        cache: row, logits: LogitsSelection.none, tape: tape)
        try cache.append(row)
        let id = nextID
        nextID += 1
        rows.append(Row(id: id, prepared: prepared, filler: filler,
                        state: BlankRowState(plan: plan, blanks: input.maskPositions.count, seed: options.seed),
                        tokenizer: generator.tokenizer, logprobs: logprobs, onEvent: onEvent))
        return id
    }

    /// Drops rows (cancelled or past their deadline) before the next step; they report nothing more.
    public func remove(ids: Set<Int>) {
        let gone = Set(rows.indices.filter { ids.contains(rows[$0].id) })
        guard !gone.isEmpty else { return }
        cache.remove(at: gone)
        rows = rows.indices.filter { !gone.contains($0) }.map { rows[$0] }
    }

    /// One decode step: one token for every running row; finished rows leave the batch.
    public func step() throws {
        guard !rows.isEmpty else { return }
        let sop = generator.specialTokens.sop
        do {
            let ids = try Tensor(shape: [rows.count, 1], ints: rows.map { Int32(truncatingIfNeeded: $0.state.nextFeed(sop: sop)) })
            var flat: [Int32] = []
            flat.reserveCapacity(rows.count * 2)
            for r in rows { let p = r.state.nextPosition; flat += [Int32(p.position), Int32(p.block)] }
            let out = try generator.model.forward(ids: ids, positionIds: try Tensor(shape: [rows.count, 2, 1], ints: flat),
                                                  raggedCache: cache, tape: tape)
            guard let logits = out.logits?.value else { throw GenerationError.badInput("the model returned no logits") }
            try consume(logits)
        } catch {
            for r in rows { r.onEvent(.failed("\(error)")) }
            remove(ids: Set(rows.map(\.id)))
            throw error
        }
    }

    private func consume(_ logits: Tensor) throws {
        let vocab = logits.shape[2]
        var done = Set<Int>()
        for (i, row) in rows.enumerated() {
            let p = logits.floats + i * vocab
            var lp: [Float]? = nil
            if row.logprobs != nil {
                if scratch.count != vocab { scratch = [Float](repeating: 0, count: vocab) }
                scratch.withUnsafeMutableBufferPointer { LogitsProcessing.logSoftmax(p, count: vocab, into: $0.baseAddress!) }
                lp = scratch
            }
            let blank = row.state.blank
            let id = row.filler.choose(p, vocab: vocab, generated: row.state.current, generator: &row.state.generator)
            let step = row.state.accept(id, tokens: generator.specialTokens, maxLength: row.filler.options.maxLength)
            if let token = step.token {
                let text = row.detokenizer.push(token)
                row.onEvent(.token(blank: blank, id: token, text: text, logprobs: lp.map { Self.logprobs($0, chosen: token, top: row.logprobs ?? 0) }))
            }
            if let ended = step.ended {
                let tail = row.detokenizer.finish()
                row.detokenizer = IncrementalDetokenizer(tokenizer: generator.tokenizer)
                let filled = FilledBlank(maskPosition: row.prepared.maskPositions[blank], ids: ended.ids,
                                         text: generator.tokenizer.decode(ended.ids), stop: ended.stop, endToken: ended.endToken)
                row.onEvent(.blankFinished(index: blank, blank: filled, tail: tail))
                if row.state.isFinished {
                    row.onEvent(.finished(generator.assemble(row.prepared, row.state.outcomes)))
                    done.insert(row.id)
                }
            }
        }
        remove(ids: done)
    }

    static func logprobs(_ lp: [Float], chosen: Int, top n: Int) -> TokenLogprobs {
        var top: [(id: Int, logprob: Float)] = []
        if n > 0 {
            top = lp.indices.sorted { lp[$0] > lp[$1] }.prefix(n).map { ($0, lp[$0]) }
        }
        return TokenLogprobs(logprob: lp[chosen], top: top)
    }
}
