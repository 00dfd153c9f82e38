/// GLM's model inputs as the Hugging Face GLM tokenizer builds them (`build_inputs_for_generation`, with
/// or without targets), for callers that run `GLMModel.forward` themselves: a training loss on a blank, a
/// custom decoding loop, an export. (Multiple choice: `MultipleChoiceEncoder.encode` in GLMTasks is HF's
/// `build_inputs_for_multiple_choice`; `/v1/glm/choices` and `glm evaluate --task multichoice` use it.)
///
/// Layout for a context of L tokens and G generation slots: ids = context + `sop` (+ the target tokens
/// when given); positions 0..<L then the first mask's position G times; block positions 0 for the context
/// then 1...G; the attention mask lets context tokens see the context only and generation slot g see the
/// context and slots 0...g. With a target, `labels` are pad for the context then target + `eop` (padded):
/// the logits at slot g predict labels[L + g].
public struct GLMModelInputs: Sendable, Equatable {
    public var inputIds: [Int]
    /// L + G position ids (more than `inputIds` when generating: the slots still to be fed).
    public var positionIds: [Int]
    public var blockPositionIds: [Int]
    /// (L + G) × (L + G), 1 = may attend (row = query, column = key).
    public var attentionMask: [[Float]]
    /// L + G labels (pad where nothing is predicted); nil without a target.
    public var labels: [Int]?

    /// Context length L.
    public var contextLength: Int { positionIds.count - generationLength }
    /// Generation slots G.
    public let generationLength: Int

    /// From encoded ids (e.g. `GLMGenerator.prepare(prompt).contextIds` / `.maskPositions`).
    /// - targetIds: the blank's answer (no `sop`/`eop`), truncated to maxGenLength − 1 tokens and ended with `eop`.
    /// - padding: with a target, pad to maxGenLength slots (HF `padding=True`); otherwise G = target + 1.
    public init(contextIds: [Int], maskPositions: [Int], tokens: SpecialTokens, maxGenLength: Int,
                targetIds: [Int]? = nil, padding: Bool = false) throws {
        guard let mask = maskPositions.min() else {
            throw GenerationError.badInput("the input has no mask token: there is nothing to generate (add [MASK] or [gMASK])")
        }
        guard maxGenLength >= 1 else { throw GenerationError.invalidOptions("max generation length must be ≥ 1 (got \(maxGenLength))") }
        let l = contextIds.count
        var g = maxGenLength
        var ids = contextIds + [tokens.sop]
        var labels: [Int]? = nil
        if let targetIds {
            let target = Array(targetIds.prefix(maxGenLength - 1)) + [tokens.eop]
            if !padding { g = target.count }
            let padded = target + Array(repeating: tokens.pad, count: g - target.count)
            ids = contextIds + [tokens.sop] + Array(padded.dropLast())
            labels = Array(repeating: tokens.pad, count: l) + padded
        }
        generationLength = g
        inputIds = ids
        positionIds = Array(0..<l) + Array(repeating: mask, count: g)
        blockPositionIds = Array(repeating: 0, count: l) + Array(1...g)
        attentionMask = (0..<(l + g)).map { row in
            (0..<(l + g)).map { col in col < l || (row >= l && col <= row) ? 1 : 0 }
        }
        self.labels = labels
    }
}

extension GLMGenerator {
    /// HF `build_inputs_for_generation(tokenizer(prompt), max_gen_length)` with `glm generate`'s prompt
    /// processing (a mask appended when the prompt has none); with `target`, the inputs and labels of a
    /// training loss on the first blank.
    public func inputsForGeneration(_ prompt: String, maxGenLength: Int = 512, target: String? = nil,
                                    padding: Bool = false) throws -> GLMModelInputs {
        let p = try prepare(prompt, maxLength: maxGenLength)
        return try GLMModelInputs(contextIds: p.contextIds, maskPositions: p.maskPositions, tokens: specialTokens,
                                  maxGenLength: maxGenLength, targetIds: target.map { tokenizer.encode($0) }, padding: padding)
    }
}
