import GLMEngine
import GLM

/// Why a blank ended.
public enum BlankStop: String, Sendable, Equatable, Codable {
    /// The model chose `eop` or `eos` (not kept, not fed) — for beam search: the best hypothesis ended so.
    case endToken = "end_token"
    /// `maxLength` tokens were generated (the last one is kept but never fed, as in the original).
    case maxLength = "max_length"
}

/// The generated part of one blank.
struct BlankOutcome: Sendable, Equatable {
    var ids: [Int]
    var stop: BlankStop
    /// The end token the model chose (greedy and sampling), nil when the blank ran to the length limit.
    var endToken: Int?
}

/// The ids GLM's generation needs from the tokenizer.
public struct SpecialTokens: Sendable, Equatable {
    public var sop: Int
    public var eop: Int
    public var eos: Int
    public var pad: Int

    public init(sop: Int, eop: Int, eos: Int, pad: Int) {
        self.sop = sop; self.eop = eop; self.eos = eos; self.pad = pad
    }

    /// generate_samples.py ends a blank on `eop` or the end-of-document token.
    public var blankEndTokens: [Int] { eop == eos ? [eop] : [eop, eos] }
}

/// Position ids of a prompt's context and of each blank's steps. With block positions (every published
/// GLM) the context has positions 0..<L, block 0, and step k of blank j is at (mask position, k + 1).
/// Without them the original shifts every context position after a mask by max length and blank j's
/// step k is at (shifted mask position + k).
struct PositionPlan {
    let context: [TokenPosition]
    let blankBase: [Int]
    let blockPositions: Bool

    init(contextLength: Int, maskPositions: [Int], blockPositions: Bool, maxLength: Int) {
        self.blockPositions = blockPositions
        var positions = Array(0..<contextLength)
        if !blockPositions {
            for m in maskPositions where m + 1 < contextLength {
                for i in (m + 1)..<contextLength { positions[i] += maxLength }
            }
        }
        context = positions.map { TokenPosition(position: $0, block: 0) }
        blankBase = maskPositions.map { positions[$0] }
    }

    func step(blank j: Int, counter: Int) -> TokenPosition {
        blockPositions ? TokenPosition(position: blankBase[j], block: counter + 1)
            : TokenPosition(position: blankBase[j] + counter, block: 0)
    }

    /// The largest position id any step can use (for the model's table size).
    func largestPosition(maxLength: Int) -> Int {
        let ctx = context.map(\.position).max() ?? 0
        if blockPositions { return max(ctx, maxLength) }
        return max(ctx, (blankBase.max() ?? 0) + maxLength - 1)
    }
}

/// Callbacks of a blank-filling run (all optional). Prompt indices refer to the run's input list.
struct BlankFillingCallbacks {
    var onToken: ((_ prompt: Int, _ blank: Int, _ id: Int) -> Void)?
    var onBlankEnd: ((_ prompt: Int, _ blank: Int, _ outcome: BlankOutcome) -> Void)?
    /// The logits of every forward step (before any filtering): prompt, blank, step, [V] values.
    var onStepLogits: ((_ prompt: Int, _ blank: Int, _ step: Int, UnsafeBufferPointer<Float>) -> Void)?
    /// Tokens held per row (padding included) when a blank ends, after its last feed: for one prompt this is
    /// the original's memory length after the blank (`mems_length_after` in the fixtures).
    var onBlankEndLength: ((_ prompt: Int, _ blank: Int, _ length: Int) -> Void)?
    /// Checked before every forward step: true stops the run with `GenerationError.cancelled`.
    var isCancelled: (() -> Bool)?

    func checkCancelled() throws {
        if isCancelled?() == true { throw GenerationError.cancelled }
    }
}

/// Blank filling as generate_samples.py does it, for one or many prompts at once:
/// one forward over each context (all of it bidirectional), then per prompt, for each mask position in
/// increasing order, `sop` and then each generated token are fed one at a time at the blank's
/// positions; the cache keeps everything fed, so later blanks see the earlier blanks' `sop` + tokens.
///
/// Greedy and sampling run every prompt of the batch in lockstep, one token per prompt per step; prompts
/// shorter than the longest are right-padded and their padding is masked out of every attention; a
/// prompt whose last blank ends leaves the batch. Beam search runs the prompts one after the other,
/// each with num_beams rows.
struct BlankFiller {
    let model: GLMModel
    /// Storage of the K/V-cache path's packed weights (`GLMGenerator.packedWeights`).
    let packedWeights: GEMMInputType?
    /// Element type of its K/V caches (`GLMGenerator.kvCacheStorage`).
    let kvCacheStorage: DType
    let tokens: SpecialTokens
    let options: GenerationOptions
    /// Ids ≥ this are never chosen.
    let vocabularyLimit: Int

    func makeBackend(rows: Int, capacity: Int) -> DecodingBackend {
        switch options.path {
        case .kvCache: return KVCacheBackend(model: model, packedWeights: packedWeights, kvCacheStorage: kvCacheStorage,
                                             rows: rows, capacity: capacity)
        case .memory: return MemoryBackend(model: model, rows: rows)
        }
    }

    func plan(_ input: BlankFillingInput) -> PositionPlan {
        PositionPlan(contextLength: input.contextIds.count, maskPositions: input.maskPositions,
                     blockPositions: model.config.blockPositionEncoding, maxLength: options.maxLength)
    }

    func run(_ inputs: [BlankFillingInput], callbacks: BlankFillingCallbacks = .init()) throws -> [[BlankOutcome]] {
        if case .beam(let beam) = options.strategy {
            return try inputs.indices.map { try runBeam(inputs[$0], index: $0, beam: beam, callbacks: callbacks) }
        }
        return try runLockstep(inputs, callbacks: callbacks)
    }

    // MARK: - greedy and sampling, many prompts in lockstep

    private struct Row {
        let prompt: Int
        let contextLength: Int
        var state: BlankRowState
    }

    private func runLockstep(_ inputs: [BlankFillingInput], callbacks: BlankFillingCallbacks) throws -> [[BlankOutcome]] {
        var results = [[BlankOutcome]](repeating: [], count: inputs.count)
        var rows: [Row] = inputs.indices.filter { !inputs[$0].maskPositions.isEmpty }.map {
            Row(prompt: $0, contextLength: inputs[$0].contextIds.count,
                state: BlankRowState(plan: plan(inputs[$0]), blanks: inputs[$0].maskPositions.count, seed: options.seed))
        }
        if rows.isEmpty { return results }
        let width = rows.map(\.contextLength).max()!
        let capacity = width + rows.map(\.state.blanks).max()! * (options.maxLength + 1)
        let backend = makeBackend(rows: rows.count, capacity: capacity)

        // The context pass: right-padded to the longest context, padding hidden from every query.
        let ids = rows.map { inputs[$0.prompt].contextIds + Array(repeating: tokens.pad, count: width - $0.contextLength) }
        let positions = rows.map { $0.state.plan.context + Array(repeating: TokenPosition(position: 0, block: 0), count: width - $0.contextLength) }
        let ragged = rows.contains { $0.contextLength != width }
        let contextMask: GLMMask = ragged ? .explicit(try paddingMask(rows.map(\.contextLength), width: width, queries: width, total: width)) : .sep([width])
        _ = try backend.feed(ids: ids, positions: positions, mask: contextMask, logits: false)

        while !rows.isEmpty {
            try callbacks.checkCancelled()
            let fed = rows.map { [$0.state.nextFeed(sop: tokens.sop)] }
            let at = rows.map { [$0.state.nextPosition] }
            let stepRagged = rows.contains { $0.contextLength != width }
            let mask: GLMMask = stepRagged
                ? .explicit(try paddingMask(rows.map(\.contextLength), width: width, queries: 1, total: backend.length + 1))
                : .sep([0])
            guard let logits = try backend.feed(ids: fed, positions: at, mask: mask, logits: true) else {
                throw GenerationError.badInput("the model returned no logits")
            }
            let vocab = logits.shape[2]
            var done: [Int] = []
            for r in rows.indices {
                let p = logits.floats + r * vocab
                let blank = rows[r].state.blank
                callbacks.onStepLogits?(rows[r].prompt, blank, rows[r].state.current.count, UnsafeBufferPointer(start: p, count: vocab))
                let id = choose(p, vocab: vocab, generated: rows[r].state.current, generator: &rows[r].state.generator)
                let step = rows[r].state.accept(id, tokens: tokens, maxLength: options.maxLength)
                if let token = step.token { callbacks.onToken?(rows[r].prompt, blank, token) }
                if let ended = step.ended {
                    callbacks.onBlankEnd?(rows[r].prompt, blank, ended)
                    callbacks.onBlankEndLength?(rows[r].prompt, blank, backend.length)
                    if rows[r].state.isFinished {
                        results[rows[r].prompt] = rows[r].state.outcomes
                        done.append(r)
                    }
                }
            }
            if !done.isEmpty {
                let keep = rows.indices.filter { !done.contains($0) }
                if !keep.isEmpty { try backend.select(rows: keep) }
                rows = keep.map { rows[$0] }
            }
        }
        return results
    }

    /// [R, 1, queries, total]: row r may attend key column j unless j is padding of its context
    /// (contextLength[r] ≤ j < width).
    private func paddingMask(_ contextLengths: [Int], width: Int, queries: Int, total: Int) throws -> Tensor {
        let t = Tensor(uninitialized: [contextLengths.count, 1, queries, total])
        let p = t.floats
        for (r, len) in contextLengths.enumerated() {
            for q in 0..<queries {
                let row = p + (r * queries + q) * total
                for j in 0..<total { row[j] = (j >= len && j < width) ? 0 : 1 }
            }
        }
        return t
    }

    /// Picks the next id of one row from its logits (modified in place by the constraints); `generated`
    /// are the row's tokens of the current blank. Shared with `ContinuousBatchDecoder`.
    func choose(_ p: UnsafeMutablePointer<Float>, vocab: Int, generated: [Int], generator: inout SeededGenerator) -> Int {
        let limit = min(vocabularyLimit, vocab)
        if options.minLength > 0 || options.noRepeatNGramSize > 0 {
            LogitsProcessing.applyConstraints(p, count: vocab, generated: generated, endTokens: tokens.blankEndTokens,
                                              minLength: options.minLength, noRepeatNGram: options.noRepeatNGramSize)
        }
        switch options.strategy {
        case .greedy, .beam:
            return LogitsProcessing.argmax(p, count: limit)
        case .sample(let s):
            var values = Array(UnsafeBufferPointer(start: p, count: limit))
            for i in values.indices { values[i] /= s.temperature }
            LogitsProcessing.topKLogits(&values, topK: s.topK, topP: s.topP)
            return LogitsProcessing.sample(logits: values, generator: &generator)
        }
    }

    // MARK: - beam search, one prompt at a time

    private func runBeam(_ input: BlankFillingInput, index: Int, beam: BeamSearchOptions,
                         callbacks: BlankFillingCallbacks) throws -> [BlankOutcome] {
        if input.maskPositions.isEmpty { return [] }
        let plan = plan(input)
        let capacity = input.contextIds.count + input.maskPositions.count * (options.maxLength + 1)
        let backend = makeBackend(rows: 1, capacity: capacity)
        _ = try backend.feed(ids: [input.contextIds], positions: [plan.context], mask: .sep([input.contextIds.count]), logits: false)
        var outcomes: [BlankOutcome] = []
        for j in input.maskPositions.indices {
            let before = backend.length
            var loop = BeamSearchLoop(options: beam, maxLength: options.maxLength, minLength: options.minLength,
                                      noRepeatNGramSize: options.noRepeatNGramSize, sop: tokens.sop,
                                      endTokens: tokens.blankEndTokens, vocabularyLimit: vocabularyLimit)
            loop.seed = options.seed &+ UInt64(j) &* 0x9E37_79B9_7F4A_7C15
            try callbacks.checkCancelled()
            let result = try loop.run(backend: backend, position: { plan.step(blank: j, counter: $0) },
                                      onStepLogits: callbacks.onStepLogits.map { f in { step, l in f(index, j, step, l) } },
                                      isCancelled: callbacks.isCancelled)
            for id in result.ids { callbacks.onToken?(index, j, id) }
            let outcome = BlankOutcome(ids: result.ids, stop: result.endedWithEndToken ? .endToken : .maxLength, endToken: nil)
            callbacks.onBlankEnd?(index, j, outcome)
            outcomes.append(outcome)
            if j + 1 < input.maskPositions.count {
                // Later blanks see this blank's sop + chosen tokens: rebuild the one-row cache with them.
                try backend.select(rows: [0])
                try backend.truncate(to: before)
                let fed = [tokens.sop] + result.ids
                _ = try backend.feed(ids: [fed], positions: [fed.indices.map { plan.step(blank: j, counter: $0) }],
                                     mask: .sep([0]), logits: false)
            }
        }
        return outcomes
    }
}

/// A prompt reduced to what blank filling needs: the context ids and the mask positions, in the order
/// the blanks are filled (increasing position).
struct BlankFillingInput: Sendable, Equatable {
    var contextIds: [Int]
    var maskPositions: [Int]

    init(contextIds: [Int], maskPositions: [Int]) {
        self.contextIds = contextIds
        self.maskPositions = maskPositions.sorted()
    }
}

/// One prompt's progress through its blanks under greedy or sampling decoding — the rules of
/// generate_samples.py shared by the lockstep batch (`BlankFiller`) and continuous batching
/// (`ContinuousBatchDecoder`), so a prompt gets the same tokens whichever loop decodes it.
struct BlankRowState {
    let plan: PositionPlan
    let blanks: Int
    /// The blank being filled (== blanks when finished).
    var blank = 0
    /// Tokens of the current blank so far.
    var current: [Int] = []
    var outcomes: [BlankOutcome] = []
    /// This prompt's own sampling generator (seeded per prompt, so batch-mates never change its draws).
    var generator: SeededGenerator

    init(plan: PositionPlan, blanks: Int, seed: UInt64) {
        self.plan = plan
        self.blanks = blanks
        generator = SeededGenerator(seed: seed)
    }

    var isFinished: Bool { blank >= blanks }

    /// The id fed at the next step: `sop` to start a blank, then the last generated token.
    func nextFeed(sop: Int) -> Int { current.last ?? sop }

    /// Where the next fed token sits.
    var nextPosition: TokenPosition { plan.step(blank: blank, counter: current.count) }

    /// Applies the chosen id: an end token ends the blank (not kept); otherwise the id is kept and the
    /// blank ends at `maxLength` tokens. Returns the kept token and the ended blank, if any.
    mutating func accept(_ id: Int, tokens: SpecialTokens, maxLength: Int) -> (token: Int?, ended: BlankOutcome?) {
        var ended: BlankOutcome? = nil
        var kept: Int? = nil
        if tokens.blankEndTokens.contains(id) {
            ended = BlankOutcome(ids: current, stop: .endToken, endToken: id)
        } else {
            current.append(id)
            kept = id
            if current.count == maxLength { ended = BlankOutcome(ids: current, stop: .maxLength, endToken: nil) }
        }
        if let ended {
            outcomes.append(ended)
            current = []
            blank += 1
        }
        return (kept, ended)
    }
}
