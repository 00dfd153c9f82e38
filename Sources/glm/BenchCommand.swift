import ArgumentParser

/// `glm bench …`: performance measurements (never tests). Each job is a subcommand; later issues add
/// `train`, `forward` and `decode` next to `ops`.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: kernels and GEMMs (ops); model benchmarks come with their issues.",
        subcommands: [BenchOpsCommand.self, BenchTrainCommand.self, BenchForwardCommand.self, BenchProfileCommand.self]
    )
}
