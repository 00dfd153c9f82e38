import ArgumentParser
import GLM

/// `--preset` / `--heads` / `--tokenizer`: how to complete a checkpoint that has no config.json.
/// Shared by every subcommand that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "Published model preset giving the head count and tokenizer when there is no config.json (glm-base, glm-large, glm-large-generation, glm-410m, glm-515m, glm-roberta-large, glm-2b, glm-10b, glm-large-chinese, glm-10b-chinese).")
    var preset: String?

    @Option(help: "Number of attention heads (when there is no config.json and no --preset).")
    var heads: Int?

    @Option(help: "Tokenizer preset name (when the checkpoint does not say).")
    var tokenizer: String?

    var loadOptions: ModelLoadOptions { ModelLoadOptions(preset: preset, heads: heads, tokenizer: tokenizer) }
}
