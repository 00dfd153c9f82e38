// What a generation run is asked to do: the decoding strategy and its knobs, with the defaults of the
// original's `arguments.py` (add_text_generate_args) unless a comment says otherwise.

/// How the next token is chosen.
public enum DecodingStrategy: Sendable, Equatable {
    /// Argmax of the logits (the original runs `top_k = 1` sampling, which always returns the argmax).
    case greedy
    /// `logits / temperature`, then `top_k_logits(top_k, top_p)`, softmax, one multinomial draw from a
    /// seeded generator (`GenerationOptions.seed`).
    case sample(SamplingOptions)
    /// Beam search with the original's `BeamSearchScorer`, as `tasks/seq2seq/evaluate.py` runs it.
    case beam(BeamSearchOptions)
}

/// Knobs of `DecodingStrategy.sample` (the original's `--temperature`, `--top-k`, `--top-p`).
public struct SamplingOptions: Sendable, Equatable {
    public var temperature: Float
    /// Keep only logits ≥ the k-th largest (0 = off).
    public var topK: Int
    /// Keep the smallest set of most likely tokens whose probability reaches `topP` (0 = off).
    public var topP: Float

    public init(temperature: Float = 1.0, topK: Int = 0, topP: Float = 0.0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }
}

/// Knobs of beam search (`--num-beams`, `--length-penalty`, `--select-topk`; top-k/top-p filtering of the
/// logits before log-softmax as the evaluator applies it).
public struct BeamSearchOptions: Sendable, Equatable {
    public var numBeams: Int
    /// A finished hypothesis scores `sum_logprobs / max(len, 1) ** lengthPenalty` (len without sop/eop).
    public var lengthPenalty: Double
    /// Take the 2·num_beams best candidates deterministically (`--select-topk`); otherwise draw them by
    /// multinomial sampling without replacement from the softmax of the beam scores, as the original does.
    public var selectTopK: Bool
    /// `do_early_stopping` of the scorer: done as soon as num_beams hypotheses are finished. The original
    /// always passes False.
    public var earlyStopping: Bool
    public var topK: Int
    public var topP: Float

    public init(numBeams: Int = 4, lengthPenalty: Double = 0.0, selectTopK: Bool = false, earlyStopping: Bool = false,
                topK: Int = 0, topP: Float = 0.0) {
        self.numBeams = numBeams
        self.lengthPenalty = lengthPenalty
        self.selectTopK = selectTopK
        self.earlyStopping = earlyStopping
        self.topK = topK
        self.topP = topP
    }
}

/// Which implementation of the incremental forward pass runs the decoding.
public enum DecodingPath: Sendable, Equatable {
    /// Keys and values of every layer cached once (`GLMKVCache`), weights pre-packed (`GLMGenerator.packedWeights`).
    case kvCache
    /// The original's way: each layer's input kept as memory and re-projected at every step
    /// (`GLMModel.forward(mems:)`). Slow; kept to prove the cache path gives the same ids.
    case memory
}

/// Everything a generation run needs besides the prompt.
public struct GenerationOptions: Sendable, Equatable {
    public var strategy: DecodingStrategy
    /// New tokens per blank at most (the original's `--out-seq-length`, default 256). Clamped to the
    /// model's max_sequence_length: block positions run 1…max length and the table has no more rows.
    public var maxLength: Int
    /// End tokens are blocked until a blank has this many tokens (the original's `--min-tgt-length`).
    public var minLength: Int
    /// No n-gram of this size repeats within a blank (the original's `--no-repeat-ngram-size`; 0 = off).
    public var noRepeatNGramSize: Int
    /// Seed of the sampling generator (the original's `--seed`, default 1234). Each prompt gets its own
    /// generator seeded with it, so a prompt's output does not depend on the other prompts of a batch.
    public var seed: UInt64
    /// Only ids below the tokenizer's `numTokens` may be chosen. Off by default: the original takes the
    /// argmax over the FULL padded vocabulary, where the padding rows can win on an untrained model.
    public var restrictToRealTokens: Bool
    public var path: DecodingPath

    public init(strategy: DecodingStrategy = .greedy, maxLength: Int = 256, minLength: Int = 0,
                noRepeatNGramSize: Int = 0, seed: UInt64 = 1234, restrictToRealTokens: Bool = false,
                path: DecodingPath = .kvCache) {
        self.strategy = strategy
        self.maxLength = maxLength
        self.minLength = minLength
        self.noRepeatNGramSize = noRepeatNGramSize
        self.seed = seed
        self.restrictToRealTokens = restrictToRealTokens
        self.path = path
    }

    /// These options for a model with `maxSequenceLength` positions (max length clamped to it).
    func clamped(maxSequenceLength: Int) -> GenerationOptions {
        var o = self
        o.maxLength = min(maxLength, maxSequenceLength)
        return o
    }

    /// Checks the numbers against each other.
    func validate() throws {
        func bad(_ m: String) -> GenerationError { .invalidOptions(m) }
        guard maxLength >= 1 else { throw bad("max length must be ≥ 1 (got \(maxLength))") }
        guard minLength >= 0 else { throw bad("min length must be ≥ 0 (got \(minLength))") }
        guard noRepeatNGramSize >= 0 else { throw bad("no-repeat n-gram size must be ≥ 0 (got \(noRepeatNGramSize))") }
        switch strategy {
        case .greedy: break
        case .sample(let s):
            guard s.temperature > 0, s.temperature.isFinite else { throw bad("temperature must be > 0 (got \(s.temperature))") }
            guard s.topK >= 0 else { throw bad("top-k must be ≥ 0 (got \(s.topK))") }
            guard s.topP >= 0, s.topP <= 1 else { throw bad("top-p must be in [0, 1] (got \(s.topP))") }
        case .beam(let b):
            guard b.numBeams >= 1 else { throw bad("num beams must be ≥ 1 (got \(b.numBeams))") }
            guard b.lengthPenalty.isFinite else { throw bad("length penalty must be finite") }
            guard b.topK >= 0 else { throw bad("top-k must be ≥ 0 (got \(b.topK))") }
            guard b.topP >= 0, b.topP <= 1 else { throw bad("top-p must be in [0, 1] (got \(b.topP))") }
        }
    }
}

/// Failures a user of generation meets; each message says what to change.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    /// The prompt's context (with [CLS], appended mask and eos) has `tokens` ids; the model has `limit` positions.
    case promptTooLong(tokens: Int, limit: Int)
    case invalidOptions(String)
    case badInput(String)
    case defaultModelMissing(path: String)
    case tokenizerUnknown(String)
    /// The consumer of a stream went away (or a caller's cancellation flag was set).
    case cancelled

    public var description: String {
        switch self {
        case .emptyPrompt: return "the prompt is empty: give some text (with [MASK] where a blank should be filled)"
        case let .promptTooLong(tokens, limit):
            return "the prompt is \(tokens) tokens long (with [CLS], mask and end token) but the model has only \(limit) positions: give a shorter prompt"
        case .invalidOptions(let m): return "invalid generation options: \(m)"
        case .badInput(let m): return m
        case .defaultModelMissing(let path):
            return "the built-in default model is not available yet (looked for \(path)); pass --model PATH"
        case .tokenizerUnknown(let m): return m
        case .cancelled: return "generation cancelled"
        }
    }
}
