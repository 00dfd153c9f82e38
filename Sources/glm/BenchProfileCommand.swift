import ArgumentParser
import Foundation
import GLMBenchmarks
import GLMEngine

/// `glm bench profile`: the per-op profile of one training step of the benchmark recipe
/// (`TrainingProfile` in GLMBenchmarks does the work; this prints what it returns).
struct BenchProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Per-op profile of a GLM training step: time per category and per op, achieved GFLOP/s and GB/s.")

    @Option(help: "Transformer layers.") var layers = 12
    @Option(help: "Hidden size.") var hidden = 768
    @Option(help: "Attention heads.") var heads = 12
    @Option(help: "Sequence length S (sep = S/2: part A bidirectional, loss on part B).") var seqLength = 512
    @Option(help: "Batch size B.") var batchSize = 2
    @Option(help: "Vocabulary (padded) V.") var vocab = 30592
    @Option(help: "Threads for oneDNN and the kernels.") var threads = 2
    @Option(help: "Profiled steps (as many plain steps are interleaved).") var steps = 3
    @Option(help: "Untimed warm-up steps.") var warmup = 1
    @Option(help: "Gradient clipping max norm (0: no clipping, the norm is still computed).") var clip: Float = 1
    @Option(help: "How many individual ops to list.") var top = 10
    @Option(help: "Seed of the random weights and batch.") var seed: UInt64 = 1234
    @Option(help: "GEMM precision: fp32 (default here), bf16 or auto.") var dtype: ComputeDType = .fp32
    @Flag(help: "Recompute each layer in backward (--checkpoint-activations).") var checkpointActivations = false
    @Flag(help: "Vocabulary logits only at the loss positions (part B), as the trainer computes them, instead of at every position as the bench/README.md recipe (and the PyTorch baseline) does.")
    var lossRowsOnly = false
    @Flag(help: "Print one JSON object instead of the tables.") var json = false

    var options: TrainingProfileOptions {
        var o = TrainingProfileOptions()
        o.layers = layers; o.hidden = hidden; o.heads = heads; o.seqLength = seqLength; o.batchSize = batchSize
        o.vocab = vocab; o.threads = threads; o.steps = steps; o.warmup = warmup; o.clip = clip; o.top = top
        o.seed = seed; o.checkpointActivations = checkpointActivations; o.lossRowsOnly = lossRowsOnly
        return o
    }

    func validate() throws {
        do { try options.validate() } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        var o = options
        Runtime.setThreads(threads)
        o.compute = try dtype.resolve(json: json)
        let report = try TrainingProfile.run(o, progress: json ? nil : { print("  " + $0) })
        if json { print(report.json(header: o.header)); return }
        print("glm bench profile: \(o.header), \(threads) thread(s), \(warmup) warm-up + \(steps) profiled (+ \(steps) plain) steps")
        print(report.text)
    }
}
