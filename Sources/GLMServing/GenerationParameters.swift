import GLMGeneration

/// The generation fields shared by /v1/completions and /v1/glm/fill (OpenAI names), read and checked.
/// `temperature` 0 (the default, as `glm generate`) is greedy decoding; above 0, seeded sampling.
struct GenerationParameters {
    var maxTokens: Int
    var temperature: Double
    var topP: Double
    var topK: Int
    var seed: Int
    var minTokens: Int
    var ignoreEOS: Bool

    /// - defaultMaxTokens: when the body has no `max_tokens` (completions: OpenAI's 16; fill: `glm generate`'s 256).
    init(_ f: inout RequestFields, limits: ServingLimits, maxPositions: Int, vocab: Int, defaultMaxTokens: Int? = nil) throws {
        maxTokens = try f.int("max_tokens", in: Int.min...Int.max) ?? min(defaultMaxTokens ?? limits.defaultMaxTokens, maxPositions)
        guard maxTokens >= 1 else { throw APIError.invalid("'max_tokens' must be at least 1, got \(maxTokens)", param: "max_tokens") }
        guard maxTokens <= maxPositions else {
            throw APIError.invalid("'max_tokens' \(maxTokens) is more than the model's \(maxPositions) positions allow", param: "max_tokens")
        }
        temperature = try f.double("temperature", in: 0...2) ?? 0
        topP = try f.double("top_p", in: 0...1) ?? 1
        topK = try f.int("top_k", in: 0...vocab) ?? 0
        seed = try f.int("seed", in: 0...Int(Int64.max)) ?? 1234
        minTokens = try f.int("min_tokens", in: 0...maxPositions) ?? 0
        ignoreEOS = try f.bool("ignore_eos") ?? false
        guard minTokens <= maxTokens else {
            throw APIError.invalid("'min_tokens' \(minTokens) is more than 'max_tokens' \(maxTokens)", param: "min_tokens")
        }
    }

    /// The generator's options; `seedOffset` gives each of n samples its own draws. `ignore_eos` blocks
    /// the end tokens for the whole blank (min length = max length), `min_tokens` until that many.
    func options(seedOffset: Int = 0) -> GenerationOptions {
        let strategy: DecodingStrategy = temperature == 0 ? .greedy
            : .sample(SamplingOptions(temperature: Float(temperature), topK: topK, topP: topP >= 1 ? 0 : Float(topP)))
        return GenerationOptions(strategy: strategy, maxLength: maxTokens, minLength: ignoreEOS ? maxTokens : minTokens,
                                 seed: UInt64(seed) &+ UInt64(seedOffset))
    }
}
