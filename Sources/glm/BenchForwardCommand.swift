import ArgumentParser

/// `glm bench forward`: forward passes with logits at every position (bench/README.md recipe).
struct BenchForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Forward throughput of a random GLM (bench/README.md recipe): tokens/s, GFLOP/s, share of peak, peak RSS.")

    @OptionGroup var model: BenchModelOptions

    func run() throws { try model.run(.forward) }
}
