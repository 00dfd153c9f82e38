/// The published GLM models, with the sizes of their `config_tasks/model_blocklm_*.sh` scripts and the
/// padded vocabulary of their tokenizer (tokenizer size rounded up to a multiple of 128). The tokenizer
/// preset of each model has the same name as the model preset.
public struct GLMPreset: Sendable, Equatable {
    public let name: String
    /// The original configuration script, under `config_tasks/`.
    public let configScript: String
    public let numLayers: Int
    public let hiddenSize: Int
    public let numAttentionHeads: Int
    public let maxSequenceLength: Int
    /// Padded vocabulary = rows of `word_embeddings.weight`.
    public let vocabSize: Int
    /// The tokenizer's own size before padding (`num_tokens` in the fixtures).
    public let tokenizerSize: Int

    /// The tokenizer preset name (same as the model's).
    public var tokenizer: String { name }

    public var config: GLMConfig {
        GLMConfig(numLayers: numLayers, hiddenSize: hiddenSize, numAttentionHeads: numAttentionHeads,
                  vocabSize: vocabSize, maxSequenceLength: maxSequenceLength, tokenizer: tokenizer)
    }

    public static let all: [GLMPreset] = [
        GLMPreset(name: "glm-base", configScript: "model_blocklm_base.sh", numLayers: 12, hiddenSize: 768,
                  numAttentionHeads: 12, maxSequenceLength: 512, vocabSize: 30592, tokenizerSize: 30524),
        GLMPreset(name: "glm-large", configScript: "model_blocklm_large.sh", numLayers: 24, hiddenSize: 1024,
                  numAttentionHeads: 16, maxSequenceLength: 512, vocabSize: 30592, tokenizerSize: 30524),
        GLMPreset(name: "glm-large-generation", configScript: "model_blocklm_large_generation.sh", numLayers: 24,
                  hiddenSize: 1024, numAttentionHeads: 16, maxSequenceLength: 512, vocabSize: 30592, tokenizerSize: 30524),
        GLMPreset(name: "glm-410m", configScript: "model_blocklm_1.25_generation.sh", numLayers: 30, hiddenSize: 1024,
                  numAttentionHeads: 16, maxSequenceLength: 512, vocabSize: 30592, tokenizerSize: 30524),
        GLMPreset(name: "glm-515m", configScript: "model_blocklm_1.5_generation.sh", numLayers: 30, hiddenSize: 1152,
                  numAttentionHeads: 18, maxSequenceLength: 512, vocabSize: 30592, tokenizerSize: 30524),
        GLMPreset(name: "glm-roberta-large", configScript: "model_blocklm_roberta_large.sh", numLayers: 24,
                  hiddenSize: 1024, numAttentionHeads: 16, maxSequenceLength: 512, vocabSize: 50304, tokenizerSize: 50267),
        GLMPreset(name: "glm-2b", configScript: "model_blocklm_2B.sh", numLayers: 36, hiddenSize: 2048,
                  numAttentionHeads: 32, maxSequenceLength: 1024, vocabSize: 50304, tokenizerSize: 50265),
        GLMPreset(name: "glm-10b", configScript: "model_blocklm_10B.sh", numLayers: 48, hiddenSize: 4096,
                  numAttentionHeads: 64, maxSequenceLength: 1024, vocabSize: 50304, tokenizerSize: 50265),
        GLMPreset(name: "glm-large-chinese", configScript: "model_blocklm_large_chinese.sh", numLayers: 24,
                  hiddenSize: 1024, numAttentionHeads: 16, maxSequenceLength: 1024, vocabSize: 50048, tokenizerSize: 50010),
        GLMPreset(name: "glm-10b-chinese", configScript: "model_blocklm_10B_chinese.sh", numLayers: 48,
                  hiddenSize: 4096, numAttentionHeads: 64, maxSequenceLength: 1024, vocabSize: 50048, tokenizerSize: 50009),
        // Unpublished configuration, kept because its tokenizer variant is in the reference fixtures.
        GLMPreset(name: "glm-roberta-1.25", configScript: "model_blocklm_roberta_1.25.sh", numLayers: 24,
                  hiddenSize: 1152, numAttentionHeads: 18, maxSequenceLength: 1024, vocabSize: 50304, tokenizerSize: 50269),
    ]

    public static var names: [String] { all.map(\.name) }

    public static func named(_ name: String) -> GLMPreset? { all.first { $0.name == name } }

    /// Presets whose sizes (layers, hidden, vocab, positions) equal `config`'s: used to suggest a
    /// `--preset` when a checkpoint comes without config.json.
    public static func matching(_ config: GLMConfig) -> [GLMPreset] {
        all.filter {
            $0.numLayers == config.numLayers && $0.hiddenSize == config.hiddenSize
                && $0.vocabSize == config.vocabSize && $0.maxSequenceLength == config.maxSequenceLength
        }
    }
}
