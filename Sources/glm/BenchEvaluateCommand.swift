import ArgumentParser
import Foundation
import GLMBenchmarks
import GLMEngine

/// `glm bench evaluate`: examples/s of the seq2seq evaluator (`glm evaluate --task …`'s beam search) at
/// `--num-beams` for each `--batch-sizes`, beside greedy K/V-cache decoding of the same shape
/// (`glm bench decode`'s workload). bench/README.md "Seq2seq evaluation".
struct BenchEvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Seq2seq evaluation throughput (beam search, examples/s at batch 1 and 8) beside plain greedy decoding.",
        discussion: """
            Runs the seq2seq evaluator on synthetic customization examples (--source-words common words each; eop is \
            blocked until --new-tokens tokens, so every example generates the same number of tokens) with the built-in \
            model, --model M, or, with --layers, a random model of that shape (--hidden, --heads, --vocab; glm-base: \
            --layers 12 --hidden 768 --heads 12) and the built-in model's tokenizer. The greedy row is glm bench decode's \
            workload at batch 1 (prompt = the source, the same new tokens) on a random model of the same shape. \
            The last stdout line is JSON.
            """)

    @Option(help: "Model folder or weights file (default: the built-in model).") var model: String?
    @Option(help: "Benchmark a random model with this many layers instead (with --hidden, --heads, --vocab).") var layers: Int?
    @Option(help: "Hidden size of the random model.") var hidden = 768
    @Option(help: "Attention heads of the random model.") var heads = 12
    @Option(help: "Vocabulary (padded) size of the random model.") var vocab = 30592
    @Option(name: .customLong("num-beams"), help: "Beams of the evaluator.") var numBeams = 4
    @Option(name: .customLong("batch-sizes"), parsing: .upToNextOption, help: "Evaluator batch sizes, one row each.") var batchSizes = [1, 8]
    @Option(help: "Timed examples per row.") var examples = 8
    @Option(name: .customLong("source-words"), help: "Source words (= tokens) per example.") var sourceWords = 96
    @Option(name: .customLong("new-tokens"), help: "Tokens generated per example.") var newTokens = 32
    @Option(help: "Untimed examples before each row.") var warmup = 1
    @Option(help: "Threads for oneDNN and the kernels.") var threads = 2
    @Option(help: "Seed of the examples and the random weights.") var seed: UInt64 = 1234
    @Flag(name: .customLong("no-greedy"), help: "Skip the greedy decode row.") var noGreedy = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be ≥ 1") }
        guard model == nil || layers == nil else { throw ValidationError("--model and --layers exclude each other") }
    }

    func run() throws {
        Runtime.setThreads(threads)
        let shape = layers.map { EvaluateBenchmark.RandomShape(layers: $0, hidden: hidden, heads: heads, vocab: vocab) }
        let generator = try EvaluateBenchmark.generator(model: model, random: shape, maxSequenceLength: max(512, sourceWords + newTokens + 4), seed: seed)
        var config = EvaluateBenchmark.Config()
        config.numBeams = numBeams; config.batchSizes = batchSizes; config.examples = examples
        config.sourceWords = sourceWords; config.newTokens = newTokens; config.warmupExamples = warmup; config.seed = seed
        let bench = try EvaluateBenchmark(generator: generator, config: config)
        let m = generator.model.config
        let modelName = layers == nil ? (model ?? "built-in glm-kjv-small") : "random"
        print("glm bench evaluate — \(EvaluateBenchmark.cpuModelName() ?? "unknown CPU"), \(Runtime.threads) thread(s), CPU level \(Runtime.cpuLevel); "
              + "\(modelName) L\(m.numLayers) H\(m.hiddenSize) A\(m.numAttentionHeads); \(examples) examples of \(sourceWords) source + \(newTokens) new tokens")
        print(pad("decoding", 22) + pad("batch", 6, right: true) + pad("examples/s", 12, right: true) + pad("tok/s", 9, right: true)
              + pad("seconds", 9, right: true))
        let rows = try bench.run { r in
            print(pad("beam search, \(r.numBeams) beams", 22) + pad("\(r.batchSize)", 6, right: true) + pad(f(r.examplesPerSecond, 3), 12, right: true)
                  + pad(f(r.tokensPerSecond, 1), 9, right: true) + pad(f(r.seconds, 2), 9, right: true))
        }
        var greedy: (examplesPerSecond: Double, tokensPerSecond: Double)? = nil
        if !noGreedy {
            let g = try bench.greedyReference()
            greedy = g
            print(pad("greedy (bench decode)", 22) + pad("1", 6, right: true) + pad(f(g.examplesPerSecond, 3), 12, right: true)
                  + pad(f(g.tokensPerSecond, 1), 9, right: true))
        }
        if let first = rows.first, let g = greedy {
            print(String(format: "beam search (%d beams, batch %d) runs at %.2f× the greedy examples/s", numBeams, first.batchSize,
                         first.examplesPerSecond / g.examplesPerSecond))
        }
        let rowJSON = rows.map {
            "{\"num_beams\":\($0.numBeams),\"batch\":\($0.batchSize),\"examples\":\($0.examples),\"seconds\":\(f($0.seconds, 4)),"
                + "\"examples_per_s\":\(f($0.examplesPerSecond, 4)),\"tokens_per_s\":\(f($0.tokensPerSecond, 3))}"
        }
        var fields: [(String, String)] = [
            ("impl", "\"swiftglm\""), ("mode", "\"evaluate\""), ("layers", "\(m.numLayers)"), ("hidden", "\(m.hiddenSize)"),
            ("heads", "\(m.numAttentionHeads)"), ("vocab", "\(m.vocabSize)"), ("threads", "\(Runtime.threads)"),
            ("source_tokens", "\(sourceWords)"), ("new_tokens", "\(newTokens)"), ("rows", "[" + rowJSON.joined(separator: ",") + "]"),
        ]
        if let g = greedy {
            fields += [("greedy_examples_per_s", f(g.examplesPerSecond, 4)), ("greedy_tokens_per_s", f(g.tokensPerSecond, 3))]
        }
        fields.append(("peak_rss_mb", f(ModelBenchmark.peakResidentMegabytes(), 1)))
        print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
    }

    func f(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

    func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
        let p = String(repeating: " ", count: max(0, w - s.count))
        return right ? p + s : s + p
    }
}
