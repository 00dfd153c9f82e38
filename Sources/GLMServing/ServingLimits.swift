/// Bounds on what one request may ask for, so no request can starve the others.
public struct ServingLimits: Sendable {
    /// Request bodies larger than this get 413.
    public var maxBodyBytes = 1 << 20
    /// Prompts in one completion request.
    public var maxPrompts = 64
    /// `n` (choices per prompt) at most.
    public var maxN = 16
    /// prompts × n × max_tokens at most (tokens one request may ask the batch for).
    public var maxRequestTokens = 1 << 15
    /// Stop sequences per request (OpenAI allows 4).
    public var maxStops = 4
    /// Choices in one /v1/glm/choices request.
    public var maxChoices = 64
    /// Seconds a request may take from submission (queue included) before it fails with 504.
    public var deadlineSeconds: Double = 600
    /// Default `max_tokens` (OpenAI's default).
    public var defaultMaxTokens = 16

    public init() {}
}
