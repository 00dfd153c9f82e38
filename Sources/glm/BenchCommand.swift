import ArgumentParser

/// `glm bench …`: performance measurements (never tests). Each job is a subcommand.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks (release builds): kernels and GEMMs (ops), training, forward and decoding and seq2seq-evaluation throughput, a training-step profile.",
        subcommands: [BenchOpsCommand.self, BenchTrainCommand.self, BenchForwardCommand.self, BenchFinetuneCommand.self, BenchDecodeCommand.self, BenchEvaluateCommand.self, BenchWeightsCommand.self,
                      BenchProfileCommand.self]
    )
}
