// The flags of the original's blank-infilling data (arguments.py, passed to ConstructBlockStrategy and
// BlockDataset by configure_data.py), with the original's command-line defaults.
import Foundation

/// How samples are turned into blank-infilling training rows.
///
/// Per batch one objective is drawn: token-level spans ("bert", probability `bertProb`), sentence spans
/// ("sentence", `gapSentenceProb`), or one document-level span ("gpt", the rest).
public struct BlankInfillingConfig: Codable, Sendable, Equatable {
    /// `--seq-length`: length of a packed sample (ENC + document tokens + eos, ...). A row gets longer
    /// than this by the part-B tokens (2 per span in bert/sentence mode, 1 in gpt mode), as the original.
    public var seqLength = 512
    /// `--bert-prob`: probability of the token-level span objective for a batch.
    public var bertProb = 0.5
    /// `--gap-sentence-prob`: probability of the sentence-level objective.
    public var gapSentenceProb = 0.0
    /// `--gpt-infill-prob`: in gpt mode, probability that a single-document sample gets the suffix
    /// (generation) layout; otherwise a span of the same length at a random place is blanked.
    public var gptInfillProb = 0.5
    /// `--gpt-min-ratio`: the gpt span is at least this share of the shortest sample in the batch.
    public var gptMinRatio = 0.5
    /// `--bert-ratio`: share of tokens covered by token-level spans.
    public var bertRatio = 0.15
    /// `--gap-sentence-ratio`: share of tokens covered by sentence spans.
    public var gapSentenceRatio = 0.15
    /// `--avg-block-length`: λ of the Poisson span-length distribution.
    public var avgBlockLength = 3.0
    /// Span lengths are drawn from 1 ..< maxBlockLength (ConstructBlockStrategy default 40).
    public var maxBlockLength = 40
    /// `--block-mask-prob`: each part-B input token of a bert span becomes [dBLOCK] with this probability.
    public var blockMaskProb = 0.0
    /// `--context-mask-ratio`: share (of the sample length) of part-A tokens next to spans set to [dBLOCK].
    public var contextMaskRatio = 0.0
    /// Tokens at each side of a span that `contextMaskRatio` may hide (ConstructBlockStrategy default 3).
    public var contextMaskRange = 3
    /// `--short-seq-prob`: probability that a batch is cut into shorter sentence-aligned samples.
    public var shortSeqProb = 0.0
    /// `--single-span-prob`: probability that a batch uses bert mode with exactly one span per sample.
    public var singleSpanProb = 0.0
    /// `--task-mask`: [sMASK] for sentence spans and [gMASK] for gpt spans instead of [MASK].
    public var taskMask = false
    /// Not `--no-shuffle-block`: part-B spans in random order instead of text order.
    public var shuffleBlocks = true
    /// Not `--no-block-position`: block position ids 1…n+1 in part B instead of all 1.
    public var blockPositionEncoding = true
    /// Not `--sample-one-document`: fill a short sample with further documents.
    public var sampleAcrossDocuments = true
    /// BlockDataset `non_sentence_start`: probability of NOT moving a cut document's start to a sentence start.
    public var nonSentenceStart = 0.0

    public init() {}

    /// Probability of the gpt (document-level) objective: what bert and sentence leave.
    public var gptProb: Double { 1 - bertProb - gapSentenceProb }

    /// Poisson(λ) pmf at 1 ..< maxBlockLength: the original's unnormalised `block_length_distribution`.
    public var spanLengthWeights: [Double] {
        (1..<maxBlockLength).map { k in
            let logp = Double(k) * log(avgBlockLength) - avgBlockLength - lgamma(Double(k) + 1)
            return exp(logp)
        }
    }

    /// Mean span length implied by the truncated, renormalised Poisson (≈ λ / (1 - e^-λ) when
    /// maxBlockLength is large; 3.157 for λ = 3).
    public var expectedSpanLength: Double {
        let w = spanLengthWeights
        return zip(1..., w).reduce(0.0) { $0 + Double($1.0) * $1.1 } / w.reduce(0, +)
    }

    /// Checks ranges and that the tokenizer has the command tokens the configuration needs.
    public func validate(commands: CommandTokenIDs) throws {
        func fail(_ message: String) -> BlankInfillingError { .invalidConfig(message) }
        for (name, p) in [("bert-prob", bertProb), ("gap-sentence-prob", gapSentenceProb),
                          ("gpt-infill-prob", gptInfillProb), ("gpt-min-ratio", gptMinRatio),
                          ("bert-ratio", bertRatio), ("gap-sentence-ratio", gapSentenceRatio),
                          ("block-mask-prob", blockMaskProb), ("context-mask-ratio", contextMaskRatio),
                          ("short-seq-prob", shortSeqProb), ("single-span-prob", singleSpanProb),
                          ("non-sentence-start", nonSentenceStart)] where !(p >= 0 && p <= 1) {
            throw fail("--\(name) must be in [0, 1], got \(p)")
        }
        if gptProb < -1e-10 { throw fail("--bert-prob + --gap-sentence-prob = \(bertProb + gapSentenceProb) exceeds 1") }
        if !(avgBlockLength > 0) { throw fail("--avg-block-length must be > 0, got \(avgBlockLength)") }
        if maxBlockLength < 2 { throw fail("max block length must be >= 2, got \(maxBlockLength)") }
        if contextMaskRange < 0 { throw fail("context mask range must be >= 0") }
        if seqLength < 4 { throw fail("--seq-length must be >= 4, got \(seqLength)") }
        if shortSeqProb > 0 && seqLength < 34 {
            throw fail("--short-seq-prob needs --seq-length >= 34 (split lengths are drawn from 32 ..< seq-length - 1)")
        }
        if taskMask && gapSentenceProb > 0 && commands.sMask == nil {
            throw fail("--task-mask with --gap-sentence-prob needs an [sMASK] token, which this tokenizer does not have")
        }
        if taskMask && gptProb > 1e-10 && commands.gMask == nil {
            throw fail("--task-mask with a gpt share (1 - bert-prob - gap-sentence-prob = \(gptProb)) needs a [gMASK] token, which this tokenizer does not have")
        }
        if (blockMaskProb > 0 || contextMaskRatio > 0) && commands.dBlock == nil {
            throw fail("--block-mask-prob / --context-mask-ratio need a [dBLOCK] token (tokenizer built with add_decoder_mask)")
        }
    }

    /// The data flags of the published models' pre-training scripts (`config/ds_block_*.sh`).
    public static func preset(_ name: String) -> BlankInfillingConfig? {
        var c = BlankInfillingConfig()
        switch name {
        case "glm-base", "glm-large":            // ds_block_base.sh, ds_block_large.sh
            c.bertProb = 1.0
        case "glm-roberta-large":                // ds_blockta_large.sh
            c.bertProb = 1.0; c.taskMask = true
        case "glm-10b", "glm-10b-chinese":       // ds_block_10B.sh, ds_block_10B_chinese.sh
            c.taskMask = true; c.bertProb = 0.5; c.gapSentenceProb = 0.3; c.gptMinRatio = 0.25
            c.blockMaskProb = 0.1; c.shortSeqProb = 0.02
        case "glm-large-chinese":                // ds_block_large_chinese.sh
            c.taskMask = true; c.bertProb = 0.4; c.gapSentenceProb = 0.3; c.gptMinRatio = 0.25
            c.blockMaskProb = 0.1; c.shortSeqProb = 0.02
        case "glm-10b-longer":                   // ds_block_10B_longer.sh
            c.taskMask = true; c.bertProb = 0.4; c.gapSentenceProb = 0.3; c.singleSpanProb = 0.05
            c.gptMinRatio = 0.25; c.blockMaskProb = 0.1; c.shortSeqProb = 0.5; c.seqLength = 1024
        case "glm-10b-chinese-longer":           // ds_block_10B_chinese_longer.sh
            c.taskMask = true; c.bertProb = 0.5; c.gapSentenceProb = 0.3; c.gptMinRatio = 0.25
            c.blockMaskProb = 0.1; c.shortSeqProb = 0.5; c.seqLength = 1024
        default:
            return nil
        }
        return c
    }

    public static let presetNames = ["glm-base", "glm-large", "glm-roberta-large", "glm-10b", "glm-10b-chinese",
                                     "glm-large-chinese", "glm-10b-longer", "glm-10b-chinese-longer"]
}

/// Errors of sample construction.
public enum BlankInfillingError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    /// The original raises "Found EOS in target" when a blanked span contains the end-of-document token.
    case eosInSpan(row: Int)
    case emptyBatch(String)

    public var description: String {
        switch self {
        case .invalidConfig(let m): return "blank-infilling configuration: \(m)"
        case .eosInSpan(let row): return "row \(row): a blanked span contains the end-of-document token (the original raises \"Found EOS in target\")"
        case .emptyBatch(let m): return "empty batch: \(m)"
        }
    }
}
