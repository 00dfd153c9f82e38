import Foundation
import GLMEngine

/// How far generation with reduced-precision decoding weights (bf16, int8) strays from fp32 weights —
/// with everything that choice brings, the bf16 K/V cache included (`GLMKVCache.storage(forWeights:)`).
///
/// Greedy generation runs once with each generator; the step logits are compared while both runs have
/// chosen the same tokens (a step counts when every earlier step of that prompt agreed, so both see the
/// same context; the first disagreement is counted and ends that prompt). This is the number behind the
/// default decoding-weights choice: the fastest format whose top-1 agreement with fp32 is ≥ 99.5 % on the
/// built-in model (`DecodingWeightsChoice`).
public struct DecodingWeightsQuality: Sendable, Equatable {
    /// Prompts compared.
    public var prompts = 0
    /// Steps compared (all steps while the two runs agreed, plus the first disagreeing one).
    public var steps = 0
    /// Steps whose argmax agreed.
    public var agreeingSteps = 0
    /// Prompts whose whole generated sequence was identical.
    public var identicalPrompts = 0
    /// Largest |logit(candidate) − logit(fp32)| over every compared step and vocabulary entry.
    public var maxLogitDifference: Float = 0
    /// Largest |logit| of the reference (the scale `maxLogitDifference` is read against).
    public var maxLogit: Float = 0

    /// Top-1 agreement: agreeing steps / compared steps.
    public var agreement: Double { steps == 0 ? 0 : Double(agreeingSteps) / Double(steps) }

    public init() {}

    /// Compares `candidate` against `reference` (same model, other packed weights) on `prompts`.
    /// - progress: called after each prompt with (done, total).
    public static func measure(reference: GLMGenerator, candidate: GLMGenerator, prompts: [String], maxLength: Int = 16,
                               progress: ((Int, Int) -> Void)? = nil) throws -> DecodingWeightsQuality {
        var q = DecodingWeightsQuality()
        for (i, prompt) in prompts.enumerated() {
            let a = try stepLogits(reference, prompt, maxLength: maxLength)
            let b = try stepLogits(candidate, prompt, maxLength: maxLength)
            q.prompts += 1
            var same = a.count == b.count
            for s in 0..<min(a.count, b.count) {
                q.steps += 1
                for j in a[s].indices {
                    q.maxLogitDifference = max(q.maxLogitDifference, abs(a[s][j] - b[s][j]))
                    q.maxLogit = max(q.maxLogit, abs(a[s][j]))
                }
                if argmax(a[s]) == argmax(b[s]) { q.agreeingSteps += 1 } else { same = false; break }
            }
            if same { q.identicalPrompts += 1 }
            progress?(i + 1, prompts.count)
        }
        return q
    }

    /// The logits of every greedy step (all blanks of the prompt in order).
    static func stepLogits(_ g: GLMGenerator, _ prompt: String, maxLength: Int) throws -> [[Float]] {
        let prepared = try g.prepare(prompt, maxLength: maxLength)
        var debug = BlankFillingCallbacks()
        var seen: [[Float]] = []
        debug.onStepLogits = { _, _, _, logits in seen.append(Array(logits)) }
        _ = try g.run([prepared], options: GenerationOptions(maxLength: maxLength), onEvent: nil, debug: debug)
        return seen
    }

    static func argmax(_ x: [Float]) -> Int {
        var best = 0
        for i in x.indices.dropFirst() where x[i] > x[best] { best = i }
        return best
    }

    /// One line for logs and benchmark output.
    public var summary: String {
        String(format: "%d prompts, %d steps compared, top-1 agreement %.4f, identical outputs %d/%d, max |Δ logit| %.4g (max |logit| %.3g)",
               prompts, steps, agreement, identicalPrompts, prompts, maxLogitDifference, maxLogit)
    }
}
