import Foundation

/// LAMBADA accuracy as the original's `evaluate_and_print_results` with the `accuracy` metric.
public struct LambadaEvaluation: Sendable, Equatable {
    /// Per item, in file order.
    public var scores: [LanguageModelScore]

    public init(scores: [LanguageModelScore]) { self.scores = scores }

    public var examples: Int { scores.count }
    public var correct: Int { scores.filter(\.allCorrect).count }
    /// Percent, computed in the original's order (`correct / examples * 100`, which can differ in the last
    /// bit from `correct * 100 / examples`).
    public var accuracy: Double { examples == 0 ? 0 : Double(correct) / Double(examples) * 100 }
    public var metrics: [(String, Double)] { [("accuracy", accuracy)] }
}

/// Perplexity as the original's `evaluate_and_print_results` with the `loss` metric.
///
/// Quirks reproduced: the loss is divided by `num_tokenized_tokens - 1` for the whole file although the
/// first token of EVERY document is never scored (and a unidirectional short last window scores fewer);
/// the total goes through a float32 tensor (`torch.cuda.FloatTensor` for the all-reduce) before the division;
/// `ppl` and `adjusted ppl` clamp the exponent at 20; `adjusted ppl` rescales the loss by
/// `(num_tokenized_tokens - 1) / (num_original_tokens - 1)` to be per original (whitespace) token.
public struct PerplexityEvaluation: Sendable, Equatable {
    public var scores: [LanguageModelScore]
    public var numOriginalTokens: Int
    public var numTokenizedTokens: Int

    public init(scores: [LanguageModelScore], numOriginalTokens: Int, numTokenizedTokens: Int) {
        self.scores = scores
        self.numOriginalTokens = numOriginalTokens
        self.numTokenizedTokens = numTokenizedTokens
    }

    public init(scores: [LanguageModelScore], corpus: LanguageModelCorpus) {
        self.init(scores: scores, numOriginalTokens: corpus.numOriginalTokens, numTokenizedTokens: corpus.numTokenizedTokens)
    }

    /// Windows evaluated (the original's `total_count`).
    public var examples: Int { scores.count }
    /// Sum of the window losses, accumulated in Double in window order.
    public var totalLossSum: Double { scores.reduce(0) { $0 + $1.lossSum } }
    public var totalLossTokens: Int { scores.reduce(0) { $0 + $1.numLossTokens } }
    public var avgLoss: Double { Double(Float(totalLossSum)) / Double(numTokenizedTokens - 1) }
    public var ppl: Double { exp(min(20, avgLoss)) }
    public var tokenRatio: Double { Double(numTokenizedTokens - 1) / Double(numOriginalTokens - 1) }
    public var adjustedPpl: Double { exp(min(20, avgLoss * tokenRatio)) }
    public var metrics: [(String, Double)] { [("avg loss", avgLoss), ("ppl", ppl), ("adjusted ppl", adjustedPpl)] }
}
