import Foundation
import GLM
import GLMGeneration
import GLMTasks
import GLMTokenizers

/// Everything `glm serve` does apart from HTTP: one loaded model, the continuous-batching scheduler and
/// one handler per endpoint taking the request body and returning the response body (or an `APIError`).
/// The HTTP layer (GLMServer) only routes, authenticates, limits bodies and writes SSE.
public final class GLMService: @unchecked Sendable {
    public let generator: GLMGenerator
    public let scheduler: BatchScheduler
    public let metrics: ServingMetrics
    public let limits: ServingLimits
    /// The name /v1/models lists and responses carry; a request naming another model gets 404.
    public let modelID: String
    public let created = Int(Date().timeIntervalSince1970)
    /// Multiple-choice inputs as `glm evaluate --task multichoice` builds them (seq length 512, bidirectional).
    let choiceEncoder: MultipleChoiceEncoder

    public init(generator: GLMGenerator, modelID: String, maxBatch: Int = 16, maxQueue: Int = 256,
                limits: ServingLimits = ServingLimits()) throws {
        self.generator = generator
        self.modelID = modelID
        self.limits = limits
        metrics = ServingMetrics(maxBatch: maxBatch)
        scheduler = BatchScheduler(generator: generator, maxBatch: maxBatch, maxQueue: maxQueue, metrics: metrics)
        choiceEncoder = try MultipleChoiceEncoder(tokenizer: generator.tokenizer, seqLength: 512)
    }

    public func start() { scheduler.start() }

    /// Lets running and queued requests finish, then stops the decoder.
    public func drain() async { await scheduler.drain() }

    func checkModel(_ name: String?) throws {
        if let name, name != modelID {
            throw APIError.notFound("the model '\(name)' does not exist; this server serves '\(modelID)'", param: "model", code: "model_not_found")
        }
    }

    /// `GLMGenerator.prepare` with its errors as API errors on `param`.
    func prepare(_ text: String, maxLength: Int, param: String) throws -> PreparedPrompt {
        do { return try generator.prepare(text, maxLength: maxLength) } catch let e as GenerationError {
            switch e {
            case .promptTooLong: throw APIError.invalid("\(e)", param: param, code: "context_length_exceeded")
            default: throw APIError.invalid("\(e)", param: param)
            }
        }
    }

    // MARK: - endpoints

    /// POST /v1/completions: a run to consume (streamed or not); fails before anything is sent.
    public func startCompletion(body: Data) throws -> CompletionHandle {
        let request = try CompletionRequest(body: body, service: self)
        return CompletionHandle(run: try CompletionRun(request, service: self))
    }

    /// POST /v1/glm/fill: `{"prompt", generation options}` → the `glm generate --jsonl` object.
    public func fill(body: Data) async throws -> Data {
        var f = try RequestFields(body: body)
        try checkModel(try f.string("model"))
        guard let prompt = try f.string("prompt") else { throw APIError.invalid("'prompt' is required", param: "prompt") }
        let config = generator.model.config
        // Without max_tokens, /fill decodes as far as `glm generate` (256 per blank, clamped to the model).
        let p = try GenerationParameters(&f, limits: limits, maxPositions: config.maxSequenceLength, vocab: config.vocabSize,
                                         defaultMaxTokens: GenerationOptions().maxLength)
        try f.finish()
        let prepared = try prepare(prompt, maxLength: p.maxTokens, param: "prompt")
        let (job, events) = try scheduler.submit([RowRequest(prepared: prepared, options: p.options())], deadline: limits.deadlineSeconds)
        return try await withTaskCancellationHandler {
            for await (_, event) in events {
                switch event {
                case .finished(let r): return Data(GenerationJSONLines.line(for: r).utf8)
                case .failed(let m): throw m == "deadline" ? APIError.timeout(seconds: limits.deadlineSeconds) : APIError.server(m)
                default: continue
                }
            }
            throw APIError.server("the request was cancelled")
        } onCancel: { [scheduler] in scheduler.cancel(job: job) }
    }

    /// POST /v1/glm/choices: `{"prompt", "choices", "length_penalty"?}` → `{"scores", "best"}`, scored as
    /// `glm evaluate --task multichoice` scores an item (GLMForMultiTokenCloze).
    public func choices(body: Data) async throws -> Data {
        var f = try RequestFields(body: body)
        try checkModel(try f.string("model"))
        guard let prompt = try f.string("prompt") else { throw APIError.invalid("'prompt' is required", param: "prompt") }
        guard !prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw APIError.invalid("'prompt' is empty", param: "prompt") }
        guard let choices = try f.list("choices") else { throw APIError.invalid("'choices' is required", param: "choices") }
        guard !choices.isEmpty, choices.count <= limits.maxChoices else {
            throw APIError.invalid("'choices' must hold 1 to \(limits.maxChoices) strings, got \(choices.count)", param: "choices")
        }
        if let i = choices.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw APIError.invalid("choice \(i) is empty", param: "choices")
        }
        let penalty = try f.double("length_penalty", in: -10...10) ?? 0
        try f.finish()
        let sample: MultipleChoiceSample
        do { sample = try choiceEncoder.encode(MultipleChoiceItem(inputs: prompt, choices: choices)) } catch {
            throw APIError.invalid("\(error)", param: "prompt")
        }
        let encoder = choiceEncoder
        let scores = try await scheduler.perform { g in
            try MultipleChoiceScorer(model: g.model, encoder: encoder, lengthPenalty: penalty).score([sample])[0]
        }
        return JSONBody.encode(["scores": scores, "best": MultipleChoiceScorer.argmax(scores)] as [String: Any])
    }

    /// POST /v1/tokenize: `{"prompt"}` → the ids `glm generate` would feed (`{"tokens", "count"}`) and the
    /// plain encoding of the text (`{"text_tokens"}`).
    public func tokenize(body: Data) throws -> Data {
        var f = try RequestFields(body: body)
        try checkModel(try f.string("model"))
        guard let prompt = try f.string("prompt") else { throw APIError.invalid("'prompt' is required", param: "prompt") }
        try f.finish()
        let prepared = try prepare(prompt, maxLength: 1, param: "prompt")
        return JSONBody.encode(["tokens": prepared.contextIds, "count": prepared.contextIds.count,
                                "mask_positions": prepared.maskPositions,
                                "text_tokens": generator.tokenizer.encode(prompt)] as [String: Any])
    }

    /// GET /v1/models.
    public func models() -> Data {
        let c = generator.model.config
        return JSONBody.encode(["object": "list", "data": [[
            "id": modelID, "object": "model", "created": created, "owned_by": "swiftglm",
            "max_positions": c.maxSequenceLength, "layers": c.numLayers, "hidden_size": c.hiddenSize,
            "tokenizer": generator.tokenizer.name,
        ] as [String: Any]]] as [String: Any])
    }

    /// GET /health.
    public func health() -> Data {
        let load = scheduler.load
        return JSONBody.encode(["status": "ok", "model": modelID, "queued": load.queued, "running": load.running,
                                "max_batch": scheduler.maxBatch] as [String: Any])
    }
}

/// A started completion: stream it (SSE chunks) or wait for the whole response.
public final class CompletionHandle: @unchecked Sendable {
    let run: CompletionRun
    init(run: CompletionRun) { self.run = run }

    public var isStream: Bool { run.request.stream }

    /// Stops generating (client disconnected).
    public func cancel() { run.cancel() }

    /// The whole response (non-streamed).
    public func response() async throws -> Data {
        try await withTaskCancellationHandler {
            try await run.run(streaming: false) { _ in }
            return run.response
        } onCancel: { [run] in run.cancel() }
    }

    /// Streams one chunk (a JSON object) per token and per finished choice.
    public func stream(_ chunk: (Data) async throws -> Void) async throws {
        do { try await run.run(streaming: true, chunk: chunk) } catch { run.cancel(); throw error }
    }
}
