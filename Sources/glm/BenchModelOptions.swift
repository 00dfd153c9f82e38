import ArgumentParser
import Foundation
import GLMBenchmarks
import GLMEngine

/// The options `bench/compare` passes to `glm bench train|forward` (bench/README.md), shared by both and `glm bench finetune`.
struct BenchModelOptions: ParsableArguments {
    @Option(help: "Transformer layers.") var layers: Int
    @Option(help: "Hidden size.") var hidden: Int
    @Option(help: "Attention heads.") var heads: Int
    @Option(help: "Sequence length S (sep = S/2).") var seqLength: Int
    @Option(help: "Batch size B.") var batchSize: Int
    @Option(help: "Vocabulary (padded) V.") var vocab: Int = 30592
    @Option(help: "Threads for oneDNN and the kernels.") var threads: Int = 2
    @Option(help: "GEMM precision: fp32, bf16 (mixed precision, as PyTorch's autocast(bfloat16)) or auto (bf16 where native and measured faster here).")
    var dtype: ComputeDType = .auto
    @Option(help: "Untimed warm-up steps.") var warmup: Int = 2
    @Option(help: "Timed steps (the median is reported).") var steps: Int = 6
    @Option(help: "Seed of the random weights and batch.") var seed: UInt64 = 1234
    @Flag(help: "Print one JSON line (bench/compare's schema) instead of the table.") var json = false

    func options(_ mode: ModelBenchmarkOptions.Mode) throws -> ModelBenchmarkOptions {
        var o = ModelBenchmarkOptions(mode: mode, layers: layers, hidden: hidden, heads: heads, seqLength: seqLength, batchSize: batchSize)
        o.vocab = vocab; o.threads = threads; o.warmup = warmup; o.steps = steps; o.seed = seed
        Runtime.setThreads(threads)
        // auto's reasoning goes to stderr with --json, so stdout stays one JSON line.
        o.compute = try dtype.resolve(json: json)
        try o.validate()
        return o
    }

    func run(_ mode: ModelBenchmarkOptions.Mode, adjust: (inout ModelBenchmarkOptions) -> Void = { _ in }) throws {
        var o = try options(mode)
        adjust(&o)
        try o.validate()
        let r = try ModelBenchmark.run(o, progress: json ? nil : { print("  " + $0) })
        if json { print(r.json); return }
        print("glm bench \(mode.rawValue): L\(o.layers) H\(o.hidden) A\(o.heads) S\(o.seqLength) B\(o.batchSize) V\(o.vocab), \(o.compute.shortName), \(o.threads) thread(s), \(o.warmup) warm-up + \(o.steps) timed steps")
        print(String(format: "  step (median)   %.1f ms", r.stepMsMedian))
        if mode == .finetune {
            print("  samples         \(o.batchSize) × " + (o.singleToken ? "1 row (single-token, \(o.choices) verbalizers)" : "\(o.choices) choice rows, answer \(o.answerLength) tokens") + " = \(o.rowsPerStep) rows of \(o.seqLength)")
        }
        print(String(format: "  tokens/s        %.1f", r.tokensPerSecond))
        print(String(format: "  achieved        %.1f GFLOP/s = %.1f %% of the FP32 peak (%.0f GFLOP/s on %d core(s); %.1f MFLOP/token)",
                     r.gflops, r.shareOfPeak * 100, OpsBenchmark.fp32PeakPerCore * Double(o.threads), o.threads, o.flopsPerToken / 1e6))
        print(String(format: "  peak RSS        %.1f MB", r.peakRSSMB))
        if let a = r.lossFirst, let b = r.lossLast { print(String(format: "  loss            %.4f → %.4f (same batch every step)", a, b)) }
    }
}
