import ArgumentParser

/// `glm bench train`: training steps (forward, loss, backward, AdamW) of a random GLM on a random batch,
/// as bench/README.md's recipe: tokens/s, GFLOP/s against the FP32 peak, peak RSS.
struct BenchTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Training throughput of a random GLM (bench/README.md recipe): tokens/s, GFLOP/s, share of peak, peak RSS.")

    @OptionGroup var model: BenchModelOptions

    func run() throws { try model.run(.train) }
}
