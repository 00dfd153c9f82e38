import ArgumentParser
import GLMBenchmarks

/// `glm bench finetune`: the SuperGLUE cloze finetuning step (`SuperGLUEFinetuner.trainStep`: cloze scores of
/// every choice row, cross-entropy over the choices, backward, clip, AdamW) on a random GLM and random cloze
/// samples, beside `glm bench train` at the same sizes: tokens/s (rows × S per step), peak RSS, loss.
struct BenchFinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Cloze finetuning throughput of a random GLM on random cloze samples: tokens/s (rows × seq length), peak RSS.")

    @OptionGroup var model: BenchModelOptions
    @Option(help: "Choices (rows) per multi-token sample; verbalizer ids with --single-token.") var choices: Int = 2
    @Option(help: "Answer tokens per choice, eop included (multi-token).") var answerLength: Int = 4
    @Flag(help: "Single-token cloze samples (one row, the sop position scored).") var singleToken = false

    func run() throws {
        try model.run(.finetune) { o in
            o.choices = choices; o.answerLength = answerLength; o.singleToken = singleToken
        }
    }
}
