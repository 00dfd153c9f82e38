import Foundation
import GLMGeneration

/// A checked /v1/completions request, its prompts prepared (masks appended as `glm generate` does).
public struct CompletionRequest {
    var prompts: [PreparedPrompt]
    var parameters: GenerationParameters
    var n: Int
    var stops: [String]
    var stream: Bool
    var logprobs: Int?
    var echo: Bool

    /// Reads and checks the body; every problem is an `APIError` naming its field.
    init(body: Data, service: GLMService) throws {
        var f = try RequestFields(body: body)
        try service.checkModel(try f.string("model"))
        guard let texts = try f.strings("prompt") else { throw APIError.invalid("'prompt' is required", param: "prompt") }
        guard !texts.isEmpty else { throw APIError.invalid("'prompt' is an empty list", param: "prompt") }
        let limits = service.limits
        guard texts.count <= limits.maxPrompts else {
            throw APIError.invalid("\(texts.count) prompts in one request; at most \(limits.maxPrompts)", param: "prompt")
        }
        let suffix = try f.string("suffix")
        let config = service.generator.model.config
        parameters = try GenerationParameters(&f, limits: limits, maxPositions: config.maxSequenceLength, vocab: config.vocabSize)
        n = try f.int("n", in: 1...limits.maxN) ?? 1
        stops = try f.strings("stop") ?? []
        guard stops.count <= limits.maxStops else { throw APIError.invalid("at most \(limits.maxStops) stop sequences", param: "stop") }
        stream = try f.bool("stream") ?? false
        logprobs = try f.int("logprobs", in: 0...5)
        echo = try f.bool("echo") ?? false
        _ = try f.string("user")
        try f.finish()
        if echo && stream { throw APIError.invalid("'echo' cannot be combined with 'stream'", param: "echo") }
        if echo && !stops.isEmpty { throw APIError.invalid("'echo' cannot be combined with 'stop'", param: "echo") }
        let total = texts.count * n * parameters.maxTokens
        guard total <= limits.maxRequestTokens else {
            throw APIError.invalid("prompts × n × max_tokens = \(total) tokens; at most \(limits.maxRequestTokens) per request", param: "n")
        }
        let maxTokens = parameters.maxTokens
        prompts = try texts.enumerated().map { i, text in
            // Insert mode: the blank goes between the prompt and the suffix.
            let full = suffix.map { text + "[MASK]" + $0 } ?? text
            return try service.prepare(full, maxLength: maxTokens, param: texts.count > 1 ? "prompt[\(i)]" : "prompt")
        }
    }

    /// One row per (prompt, sample): choice index = prompt × n + sample.
    var rows: [RowRequest] {
        prompts.flatMap { p in (0..<n).map { j in RowRequest(prepared: p, options: parameters.options(seedOffset: j), logprobs: logprobs) } }
    }
}

/// One choice of a completion being assembled from its row's events.
struct CompletionChoice {
    var stop: StopSequences
    var text = ""
    var tokens = 0
    var finishReason: String?
    var hitLength = false
    var result: GenerationResult?
    var error: APIError?
    var logprobTokens: [String] = []
    var logprobValues: [Double] = []
    var logprobTop: [[String: Double]] = []
    var offsets: [Int] = []

    var done: Bool { finishReason != nil || error != nil }

    func logprobsJSON(_ wanted: Bool) -> Any {
        guard wanted else { return NSNull() }
        return ["tokens": logprobTokens, "token_logprobs": logprobValues, "top_logprobs": logprobTop, "text_offset": offsets] as [String: Any]
    }
}

/// Runs a checked completion on the scheduler: collects each row's events into its choice and, when
/// streaming, hands out one SSE chunk per token (then one per finished choice and `[DONE]`).
final class CompletionRun: @unchecked Sendable {
    let request: CompletionRequest
    let service: GLMService
    let id = "cmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(24)
    let created = Int(Date().timeIntervalSince1970)
    private(set) var choices: [CompletionChoice]
    private let job: Int
    private let events: AsyncStream<JobEvent>

    init(_ request: CompletionRequest, service: GLMService) throws {
        self.request = request
        self.service = service
        let rows = request.rows
        choices = rows.map { _ in CompletionChoice(stop: StopSequences(request.stops)) }
        (job, events) = try service.scheduler.submit(rows, deadline: service.limits.deadlineSeconds)
    }

    /// Stops the job (the client went away).
    func cancel() { service.scheduler.cancel(job: job) }

    /// Consumes the events; `chunk` gets each SSE chunk's JSON when streaming.
    func run(streaming: Bool, chunk: (Data) async throws -> Void) async throws {
        for await (row, event) in events {
            var c = choices[row]
            if c.done { continue }
            var piece: String? = nil
            var tokenLogprobs: TokenLogprobs? = nil
            var tokenID: Int? = nil
            switch event {
            case let .token(_, id, text, lp):
                c.tokens += 1
                piece = c.stop.push(text)
                tokenLogprobs = lp; tokenID = id
                if c.stop.stopped { c.finishReason = "stop"; service.scheduler.cancel(job: job, row: row) }
            case let .blankFinished(_, blank, tail):
                if blank.stop == .maxLength { c.hitLength = true }
                piece = c.stop.push(tail)
                if c.stop.stopped { c.finishReason = "stop"; service.scheduler.cancel(job: job, row: row) }
            case let .finished(result):
                c.result = result
                piece = c.stop.finish()
                c.finishReason = c.hitLength ? "length" : "stop"
            case let .failed(message):
                c.error = message == "deadline" ? .timeout(seconds: service.limits.deadlineSeconds) : .server("generation failed: \(message)")
            }
            if let tokenID, let lp = tokenLogprobs {
                let tok = service.generator.tokenizer.decode([tokenID])
                c.logprobTokens.append(tok)
                c.logprobValues.append(Double(lp.logprob))
                var top: [String: Double] = [:]
                for t in lp.top { top[service.generator.tokenizer.decode([t.id])] = Double(t.logprob) }
                c.logprobTop.append(top)
                c.offsets.append(c.text.utf16.count)
            }
            if let piece { c.text += piece }
            choices[row] = c
            if streaming, tokenID != nil || c.done, c.error == nil {
                var choice: [String: Any] = ["index": row, "text": piece ?? "", "finish_reason": c.finishReason ?? NSNull()]
                if request.logprobs != nil, let lp = tokenLogprobs, let tokenID {
                    let tok = service.generator.tokenizer.decode([tokenID])
                    choice["logprobs"] = ["tokens": [tok], "token_logprobs": [Double(lp.logprob)], "top_logprobs": [c.logprobTop.last ?? [:]],
                                          "text_offset": [c.offsets.last ?? 0]] as [String: Any]
                } else {
                    choice["logprobs"] = NSNull()
                }
                try await chunk(JSONBody.encode(["id": id, "object": "text_completion", "created": created,
                                                 "model": service.modelID, "choices": [choice]] as [String: Any]))
            }
        }
        if let e = choices.compactMap(\.error).first { throw e }
        if !choices.allSatisfy(\.done) { throw APIError.server("the request was cancelled") }
    }

    /// The non-streamed response.
    var response: Data {
        let out: [[String: Any]] = choices.enumerated().map { i, c in
            var text = c.text
            if request.echo, let r = c.result { text = r.text }
            return ["index": i, "text": text, "finish_reason": c.finishReason ?? NSNull(), "logprobs": c.logprobsJSON(request.logprobs != nil)]
        }
        return JSONBody.encode(["id": id, "object": "text_completion", "created": created, "model": service.modelID,
                                "choices": out, "usage": usage] as [String: Any])
    }

    var usage: [String: Int] {
        let prompt = request.prompts.reduce(0) { $0 + $1.contextIds.count }
        let completion = choices.reduce(0) { $0 + $1.tokens }
        return ["prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion]
    }
}
