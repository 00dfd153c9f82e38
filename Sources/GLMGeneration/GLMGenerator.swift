import GLMEngine
import Foundation
import GLM
import GLMTokenizers

/// A prompt after the original's processing, checked against the model.
public struct PreparedPrompt: Sendable, Equatable {
    public var prompt: String
    public var encoding: GenerationPromptEncoding
    /// Set when the prompt has no mask token the tokenizer knows: nothing will be generated.
    public var warning: String?

    public var contextIds: [Int] { encoding.contextIds }
    public var maskPositions: [Int] { encoding.maskPositions }
}

/// Blank filling with a GLM model: load once, generate many times. Shared by the CLI, `GLMPipeline`
/// and task code.
///
/// `generate` follows THUDM/GLM `generate_samples.py` exactly (prompt processing, one context pass, the
/// blanks in increasing mask position, each from `sop` with 2-D positions (mask position, k), ending on
/// `eop`/`eos` or after `maxLength` tokens), on a K/V cache with pre-packed weights. Greedy decoding
/// takes the argmax over the full padded vocabulary unless `restrictToRealTokens` is set.
///
/// Thread-safe: calls are serialised (the model's packed weight copies and the caches are not reentrant);
/// run several generators for parallelism.
public final class GLMGenerator: @unchecked Sendable {
    public let model: GLMModel
    public let tokenizer: any Tokenizer
    public let specialTokens: SpecialTokens
    /// Storage of the packed weights every K/V-cache product goes through (nil: only decode-sized
    /// products use packed float32 copies, prompts run plain GEMMs). The copies live on the model's
    /// parameters (one per storage type) and are built when the generator is made.
    public let packedWeights: GEMMInputType?
    /// Element type of the decoding K/V caches: `.float32` or `.bfloat16` (half the cache memory and the cache
    /// bytes read per step; keys and values rounded once). Default: what the weights imply
    /// (`GLMKVCache.storage(forWeights:)`: bf16 with bf16/int8 weights). Set it before sharing the generator.
    public var kvCacheStorage: DType
    /// Most prompts `generate(_ prompts:)` decodes together; longer lists run in chunks of this size.
    /// Set it before sharing the generator between threads.
    public var maxBatchRows = 16
    private let lock = NSLock()

    /// - packedWeights: storage of the pre-packed decoding weights (`.bfloat16` halves the bytes read per
    ///   token; outputs then differ from float32 in the low bits; `.int8` quarters them, weight-only int8
    ///   with per-output-channel scales: top-1 agreement with float32 ≈ 0.99, see `Int8QualityTests`),
    ///   or nil for none.
    public init(model: GLMModel, tokenizer: any Tokenizer, packedWeights: GEMMInputType? = .float32) throws {
        guard tokenizer.numTokens <= model.config.vocabSize else {
            throw GenerationError.tokenizerUnknown(
                "tokenizer \(tokenizer.name) has \(tokenizer.numTokens) tokens but the model's embedding has only \(model.config.vocabSize) rows: wrong --tokenizer?")
        }
        func id(_ name: CommandName) throws -> Int {
            guard let v = tokenizer.commandToken(name) else {
                throw GenerationError.tokenizerUnknown("tokenizer \(tokenizer.name) has no \(name.rawValue) token (not a GLM block-LM tokenizer)")
            }
            return v
        }
        self.model = model
        self.tokenizer = tokenizer
        specialTokens = SpecialTokens(sop: try id(.sop), eop: try id(.eop), eos: try id(.eos), pad: try id(.pad))
        self.packedWeights = packedWeights
        kvCacheStorage = GLMKVCache.storage(forWeights: packedWeights)
        // Pack now rather than inside the first request.
        if let packedWeights { try model.prepackWeights(for: .inference(packedWeights: packedWeights)) }
    }

    /// Loads a model in any layout `GLMModel.load` reads, and its tokenizer: `options.tokenizer`, else the
    /// one the config names (vocabulary files in the model folder take precedence over the shipped ones).
    /// - mapConverted: a bf16/int8 conversion (`glm convert --dtype bf16|int8`) is loaded memory-mapped
    ///   (`MappedModel`: no float32 copy of the layer weights; `packedWeights` must then be the file's
    ///   storage, see `MappedModel.storage(of:)`).
    public static func load(_ path: String, options: ModelLoadOptions = ModelLoadOptions(),
                            packedWeights: GEMMInputType? = .float32, mapConverted: Bool = false) throws -> GLMGenerator {
        let model: GLMModel
        if mapConverted, let stored = MappedModel.storage(of: path) {
            guard packedWeights == stored else {
                throw GenerationError.invalidOptions("\(path) holds \(stored.shortName) weights, decoded memory-mapped as they are: ask for \(stored.shortName) decoding weights (or convert the model to f32 for \(packedWeights?.shortName ?? "unpacked") weights)")
            }
            model = try MappedModel.load(path, options: options).model
        } else {
            model = try GLMModel.load(path, options: options)
        }
        guard let name = options.tokenizer ?? model.config.tokenizer ?? options.preset else {
            throw GenerationError.tokenizerUnknown(
                "the model at \(path) does not name its tokenizer: pass --tokenizer PRESET (e.g. glm-large) or --preset")
        }
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? URL(fileURLWithPath: path) : URL(fileURLWithPath: path).deletingLastPathComponent()
        let tokenizer = try TokenizerLoader.load(presetNamed: name, vocabDirectory: folder)
        return try GLMGenerator(model: model, tokenizer: tokenizer, packedWeights: packedWeights)
    }

    /// Loads the built-in default model (see `DefaultModel`).
    public static func loadDefault(packedWeights: GEMMInputType? = .float32) throws -> GLMGenerator {
        try load(try DefaultModel.path(), packedWeights: packedWeights)
    }

    // MARK: - prompts

    /// The original's prompt processing plus the checks: empty prompt, too long for the model's positions,
    /// no mask token the tokenizer knows (a warning, like the original which silently generates nothing).
    public func prepare(_ prompt: String, maxLength: Int = GenerationOptions().maxLength) throws -> PreparedPrompt {
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw GenerationError.emptyPrompt }
        let encoding = tokenizer.encodeGenerationPrompt(prompt)
        let limit = model.config.maxSequenceLength
        guard encoding.contextIds.count < limit else {
            throw GenerationError.promptTooLong(tokens: encoding.contextIds.count, limit: limit)
        }
        let plan = PositionPlan(contextLength: encoding.contextIds.count, maskPositions: encoding.maskPositions,
                                blockPositions: model.config.blockPositionEncoding, maxLength: maxLength)
        if plan.largestPosition(maxLength: maxLength) > limit {
            throw GenerationError.badInput(
                "the prompt with its blanks needs position \(plan.largestPosition(maxLength: maxLength)) but the model has \(limit): use a shorter prompt or --max-length")
        }
        var warning: String? = nil
        if encoding.maskPositions.isEmpty {
            let known = tokenizer.maskTokenNames.map { "[\($0)]" }.joined(separator: ", ")
            let lacking = ["[MASK]", "[sMASK]", "[gMASK]"].filter { prompt.contains($0) && !known.contains($0) }
            let what = lacking.isEmpty ? "no mask token" : "\(lacking.joined(separator: ", ")), which tokenizer \(tokenizer.name) does not have"
            warning = "nothing to generate: the prompt contains \(what) (this model knows \(known)); the original generates nothing too"
        }
        return PreparedPrompt(prompt: prompt, encoding: encoding, warning: warning)
    }

    // MARK: - generation

    /// Fills the blanks of one prompt. `onEvent` sees every token as it is produced.
    public func generate(_ prompt: String, options: GenerationOptions = GenerationOptions(),
                         onEvent: ((GenerationEvent) -> Void)? = nil) throws -> GenerationResult {
        let options = try checked(options)
        let prepared = try prepare(prompt, maxLength: options.maxLength)
        return try locked { try run([prepared], options: options, onEvent: onEvent)[0] }
    }

    /// Fills the blanks of many prompts as one batch (greedy and sampling decode them together; beam
    /// search one after the other). A bad prompt gives its own failure and never stops the others.
    public func generate(_ prompts: [String], options userOptions: GenerationOptions = GenerationOptions(),
                         onEvent: ((GenerationEvent) -> Void)? = nil) -> [Result<GenerationResult, Error>] {
        let options: GenerationOptions
        do { options = try checked(userOptions) } catch { return prompts.map { _ in .failure(error) } }
        var results = [Result<GenerationResult, Error>?](repeating: nil, count: prompts.count)
        var prepared: [PreparedPrompt] = []
        var indices: [Int] = []
        for (i, p) in prompts.enumerated() {
            do { prepared.append(try prepare(p, maxLength: options.maxLength)); indices.append(i) } catch { results[i] = .failure(error) }
        }
        locked {
            // At most `maxBatchRows` prompts decode together (each row holds a whole K/V cache).
            for chunkStart in stride(from: 0, to: prepared.count, by: max(1, maxBatchRows)) {
                let chunk = Array(prepared[chunkStart..<min(prepared.count, chunkStart + max(1, maxBatchRows))])
                let slots = Array(indices[chunkStart..<(chunkStart + chunk.count)])
                let remap: ((GenerationEvent) -> Void)? = onEvent.map { f in { f(Self.reindex($0, slots)) } }
                do {
                    for (k, r) in try run(chunk, options: options, onEvent: remap).enumerated() { results[slots[k]] = .success(r) }
                } catch {
                    // Something failed inside the batch: redo each prompt alone so only the culprit fails.
                    for (k, p) in chunk.enumerated() {
                        let one: ((GenerationEvent) -> Void)? = onEvent.map { f in { f(Self.reindex($0, [slots[k]])) } }
                        results[slots[k]] = Result { try run([p], options: options, onEvent: one)[0] }
                    }
                }
            }
        }
        return results.map { $0! }
    }

    /// Streams one prompt's generation: `.token` events as tokens are produced, `.blankFinished`, and a
    /// final `.finished` with the whole result. Generation runs on a background thread.
    /// Generation stops (at the next step) when the consumer stops iterating.
    public func stream(_ prompt: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<GenerationEvent, Error> {
        AsyncThrowingStream { continuation in
            let stop = CancellationFlag()
            continuation.onTermination = { _ in stop.set() }
            let thread = Thread { [self] in
                do {
                    let options = try checked(options)
                    let prepared = try prepare(prompt, maxLength: options.maxLength)
                    var control = BlankFillingCallbacks()
                    control.isCancelled = { stop.isSet }
                    _ = try locked { try run([prepared], options: options, onEvent: { continuation.yield($0) }, debug: control) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Beam search on one seq2seq source, as `tasks/seq2seq/evaluate.py DecoderEvaluater` does it: the
    /// source (padded or not, all of it visible to itself) is run once, then `sop` at (maskPosition, 1),
    /// then one token per beam at (maskPosition, k + 1). Only `eop` ends a hypothesis. `options.strategy`
    /// must be `.beam`. The returned ids still contain any generated pad ids (the evaluator drops them,
    /// with eop, before decoding: see `predictionIds`).
    public func seq2seqBeamSearch(sourceIds: [Int], maskPosition: Int, options: GenerationOptions) throws -> BeamSearchResult {
        let options = try checked(options)
        guard case .beam(let beam) = options.strategy else { throw GenerationError.invalidOptions("seq2seq decoding needs the beam strategy") }
        guard !sourceIds.isEmpty, sourceIds.count < model.config.maxSequenceLength else {
            throw GenerationError.promptTooLong(tokens: sourceIds.count, limit: model.config.maxSequenceLength)
        }
        guard maskPosition >= 0 && maskPosition < sourceIds.count else {
            throw GenerationError.badInput("mask position \(maskPosition) outside the source of \(sourceIds.count) tokens")
        }
        return try locked {
            let f = filler(options)
            let backend = f.makeBackend(rows: 1, capacity: sourceIds.count + options.maxLength + 1)
            let context = sourceIds.indices.map { TokenPosition(position: $0, block: 0) }
            _ = try backend.feed(ids: [sourceIds], positions: [context], mask: .sep([sourceIds.count]), logits: false)
            var loop = BeamSearchLoop(options: beam, maxLength: options.maxLength, minLength: options.minLength,
                                      noRepeatNGramSize: options.noRepeatNGramSize, sop: specialTokens.sop,
                                      endTokens: [specialTokens.eop], vocabularyLimit: f.vocabularyLimit)
            loop.seed = options.seed
            return try loop.run(backend: backend, position: { TokenPosition(position: maskPosition, block: $0 + 1) })
        }
    }

    /// Greedy infilling of every blank of one seq2seq source, as `tasks/seq2seq/evaluate.py
    /// BlankLMEvaluater` decodes a blank-task test sample: the source (all of it visible to itself) is run
    /// once, then `sop` at (maskPositions[0], 1), then one token per step at (mask, k + 1). Each step takes
    /// the argmax of the log-softmax after the min-length / no-repeat n-gram constraints, which (as in
    /// the original) count every token generated so far, across blanks. An `eop` moves on to the next
    /// mask: `sop` is fed there at block position 1 instead; after the last mask it ends the search. At
    /// most `options.maxLength` steps in all. Returns the generated tokens as the original's `tokens` row
    /// holds them (the blanks separated by `sop`, no `eop`). `options.strategy` must be `.greedy`.
    public func seq2seqBlankFill(sourceIds: [Int], maskPositions: [Int], options: GenerationOptions) throws -> [Int] {
        let options = try checked(options)
        guard case .greedy = options.strategy else { throw GenerationError.invalidOptions("blank infilling decodes greedily") }
        guard !sourceIds.isEmpty, sourceIds.count < model.config.maxSequenceLength else {
            throw GenerationError.promptTooLong(tokens: sourceIds.count, limit: model.config.maxSequenceLength)
        }
        guard let first = maskPositions.first, maskPositions.allSatisfy({ $0 >= 0 && $0 < sourceIds.count }) else {
            throw GenerationError.badInput("mask positions \(maskPositions) not within the source of \(sourceIds.count) tokens")
        }
        return try locked {
            let f = filler(options)
            let backend = f.makeBackend(rows: 1, capacity: sourceIds.count + options.maxLength + 1)
            let context = sourceIds.indices.map { TokenPosition(position: $0, block: 0) }
            _ = try backend.feed(ids: [sourceIds], positions: [context], mask: .sep([sourceIds.count]), logits: false)
            let sop = specialTokens.sop, eop = specialTokens.eop
            var tokens: [Int] = []
            var position = TokenPosition(position: first, block: 1)
            var fed = sop
            var current = 0
            var row: [Float] = []
            var scores: [Float] = []
            for _ in 0..<options.maxLength {
                guard let logits = try backend.feed(ids: [[fed]], positions: [[position]], mask: .sep([0]), logits: true) else {
                    throw GenerationError.badInput("no logits at a blank-filling step")
                }
                let vocab = logits.shape[2]
                if row.count != vocab { row = [Float](repeating: 0, count: vocab); scores = row }
                for i in 0..<vocab { row[i] = i < f.vocabularyLimit ? logits.floats[i] : -.infinity }
                row.withUnsafeBufferPointer { r in
                    scores.withUnsafeMutableBufferPointer { s in
                        LogitsProcessing.logSoftmax(r.baseAddress!, count: vocab, into: s.baseAddress!)
                        LogitsProcessing.applyConstraints(s.baseAddress!, count: vocab, generated: tokens, endTokens: [eop],
                                                          minLength: options.minLength, noRepeatNGram: options.noRepeatNGramSize)
                    }
                }
                var next = 0
                for i in 1..<vocab where scores[i] > scores[next] { next = i }
                if next == eop {
                    guard current + 1 < maskPositions.count else { break }
                    current += 1
                    next = sop
                    position = TokenPosition(position: maskPositions[current], block: 1)
                } else {
                    position.block += 1
                }
                tokens.append(next)
                fed = next
            }
            return tokens
        }
    }

    /// The evaluator's prediction: the ids without eop and pad.
    public func predictionIds(_ ids: [Int]) -> [Int] {
        ids.filter { $0 != specialTokens.eop && $0 != specialTokens.pad }
    }

    // MARK: - internals

    /// Validated options with the max length clamped to the model's positions.
    func checked(_ options: GenerationOptions) throws -> GenerationOptions {
        try options.validate()
        return options.clamped(maxSequenceLength: model.config.maxSequenceLength)
    }

    func filler(_ options: GenerationOptions) -> BlankFiller {
        let limit = options.restrictToRealTokens ? min(tokenizer.numTokens, model.config.vocabSize) : model.config.vocabSize
        return BlankFiller(model: model, packedWeights: packedWeights, kvCacheStorage: kvCacheStorage,
                           tokens: specialTokens, options: options, vocabularyLimit: limit)
    }

    /// Runs `body` holding the generator's lock (also used by the batched seq2seq beam search).
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs prepared prompts and assembles their results (callers hold the lock).
    /// `debug` supplies the step-logits and cache-length hooks (tests) and the cancellation check.
    func run(_ prepared: [PreparedPrompt], options: GenerationOptions, onEvent: ((GenerationEvent) -> Void)?,
             debug: BlankFillingCallbacks = BlankFillingCallbacks()) throws -> [GenerationResult] {
        var callbacks = BlankFillingCallbacks()
        callbacks.onStepLogits = debug.onStepLogits
        callbacks.onBlankEndLength = debug.onBlankEndLength
        callbacks.isCancelled = debug.isCancelled
        var streams: [Int: [Int: IncrementalDetokenizer]] = [:]
        if let onEvent {
            callbacks.onToken = { [tokenizer] p, b, id in
                let delta = streams[p, default: [:]][b, default: IncrementalDetokenizer(tokenizer: tokenizer)].push(id)
                onEvent(.token(prompt: p, blank: b, id: id, text: delta))
            }
            callbacks.onBlankEnd = { [tokenizer] p, b, outcome in
                let blank = FilledBlank(maskPosition: prepared[p].maskPositions[b], ids: outcome.ids,
                                        text: tokenizer.decode(outcome.ids), stop: outcome.stop, endToken: outcome.endToken)
                onEvent(.blankFinished(prompt: p, index: b, blank: blank))
            }
        }
        let inputs = prepared.map { BlankFillingInput(contextIds: $0.contextIds, maskPositions: $0.maskPositions) }
        let outcomes = try filler(options).run(inputs, callbacks: callbacks)
        return prepared.indices.map { i in
            let r = assemble(prepared[i], outcomes[i])
            onEvent?(.finished(prompt: i, result: r))
            return r
        }
    }

    /// The result fields from the prompt and its blanks.
    func assemble(_ p: PreparedPrompt, _ outcomes: [BlankOutcome]) -> GenerationResult {
        let context = p.contextIds
        let blanks = zip(p.maskPositions, outcomes).map { pos, o in
            FilledBlank(maskPosition: pos, ids: o.ids, text: tokenizer.decode(o.ids), stop: o.stop, endToken: o.endToken)
        }
        var ids = context
        for b in blanks { ids += [specialTokens.sop] + b.ids }
        var filled: [Int] = []
        var byPosition: [Int: [Int]] = [:]
        for b in blanks { byPosition[b.maskPosition] = b.ids }
        for (i, id) in context.enumerated() { filled += byPosition[i] ?? [id] }
        var clean = ArraySlice(filled)
        if let enc = tokenizer.commandToken(.ENC), clean.first == enc { clean = clean.dropFirst() }
        if p.encoding.appendedEOS, clean.last == specialTokens.eos { clean = clean.dropLast() }
        return GenerationResult(prompt: p.prompt, rawText: p.encoding.rawText, contextIds: context, blanks: blanks, ids: ids,
                                output: tokenizer.decode(Array(ids[context.count...])), filledIds: filled,
                                text: tokenizer.decode(Array(clean)), warning: p.warning)
    }

    /// A flag set from another thread (a stream's termination handler).
    final class CancellationFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.lock(); value = true; lock.unlock() }
        var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    }

    static func reindex(_ e: GenerationEvent, _ indices: [Int]) -> GenerationEvent {
        switch e {
        case let .token(p, b, id, text): return .token(prompt: indices[p], blank: b, id: id, text: text)
        case let .blankFinished(p, i, blank): return .blankFinished(prompt: indices[p], index: i, blank: blank)
        case let .finished(p, r): return .finished(prompt: indices[p], result: r)
        }
    }
}
