import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTasks

/// The seq2seq evaluation workload of bench/README.md ("Seq2seq evaluation"): `Seq2SeqEvaluator` — the
/// code `glm evaluate --task …` runs — on synthetic `customization` examples, so the numbers are the
/// evaluator's whole cost (encoding, beam search with the task's constraints, decoding, ROUGE).
///
/// Every source is `sourceWords` words drawn (seeded) from a list of common words that the BERT
/// WordPiece vocabulary holds whole, so each sample is exactly `[CLS] + sourceWords + [MASK] + eos`
/// tokens. eop is blocked until `newTokens` tokens (`minTgtLength = tgtSeqLength`): every example
/// generates exactly `newTokens` tokens per beam whatever the weights, so examples/s is comparable between
/// trained and random models. The other constraints are `config_tasks/seq_customization.sh`'s
/// (length penalty 0.7, no repeated 3-grams, top-2·beams candidates).
///
/// `batchSize` is the evaluator's `--eval-batch-size`: that many sources are beam-searched together
/// (`GLMGenerator.seq2seqBeamSearch(sources:)`, batch × beams rows per forward), so batch 8 against
/// batch 1 is the gain of batched decoding on the same examples (same predictions, same ROUGE).
public struct EvaluateBenchmark {
    public struct Config: Sendable {
        public var numBeams = 4
        /// The `--eval-batch-size` values to time, one row each.
        public var batchSizes = [1, 8]
        /// Examples per timed row.
        public var examples = 8
        public var sourceWords = 96
        public var newTokens = 32
        /// Untimed examples before each row.
        public var warmupExamples = 1
        public var seed: UInt64 = 1234

        public init() {}

        public func validate(maxSequenceLength: Int) throws {
            guard numBeams >= 1, examples >= 1, sourceWords >= 1, newTokens >= 1, warmupExamples >= 0,
                  !batchSizes.isEmpty, batchSizes.allSatisfy({ $0 >= 1 }) else {
                throw GenerationError.invalidOptions("bench evaluate: beams, examples, batch sizes, source words and new tokens must be ≥ 1")
            }
            // The source (with [CLS], [MASK], eos) and the block positions 1…newTokens must fit the model's positions.
            guard sourceWords + 3 < maxSequenceLength, newTokens < maxSequenceLength else {
                throw GenerationError.invalidOptions(
                    "bench evaluate: \(sourceWords) source words + 3 and \(newTokens) new tokens must stay below the model's \(maxSequenceLength) positions")
            }
        }
    }

    /// One timed row: `examples` examples evaluated with `numBeams` beams at `batchSize`.
    public struct Row: Sendable {
        public var numBeams: Int
        public var batchSize: Int
        public var examples: Int
        public var seconds: Double
        public var examplesPerSecond: Double { Double(examples) / seconds }
        /// Tokens of the best hypotheses per second (`newTokens` per example).
        public var tokensPerSecond: Double
        /// ROUGE-1 of the predictions against the synthetic references (a sanity value, not a quality number).
        public var rouge1: Double
    }

    public let config: Config
    public let generator: GLMGenerator
    public let task: Seq2SeqTask

    /// The benchmark of `generator`'s model and tokenizer (a BERT WordPiece one: the words are its).
    public init(generator: GLMGenerator, config: Config) throws {
        try config.validate(maxSequenceLength: generator.model.config.maxSequenceLength)
        self.config = config
        self.generator = generator
        var t = Seq2SeqTask.preset(.customization, taskMask: generator.tokenizer.hasTaskMask)
        t.srcSeqLength = config.sourceWords + 3
        t.tgtSeqLength = config.newTokens
        t.minTgtLength = config.newTokens
        t.numBeams = config.numBeams
        task = t
    }

    /// The shape of a random-weight model to benchmark (GLM's init; glm-base: 12 layers, 768 hidden, 12 heads).
    public struct RandomShape: Sendable {
        public var layers: Int, hidden: Int, heads: Int, vocab: Int
        public init(layers: Int, hidden: Int, heads: Int, vocab: Int = 30592) {
            self.layers = layers; self.hidden = hidden; self.heads = heads; self.vocab = vocab
        }
    }

    /// The generator to benchmark: the model at `path` (nil: the built-in model), or with `random` a
    /// random model of that shape (`maxSequenceLength` positions) that uses that model's tokenizer.
    public static func generator(model path: String?, random: RandomShape? = nil, maxSequenceLength: Int = 512,
                                 seed: UInt64 = 1234) throws -> GLMGenerator {
        if let r = random, !(r.layers > 0 && r.hidden > 0 && r.heads > 0 && r.hidden % r.heads == 0 && r.vocab > 0) {
            throw GenerationError.invalidOptions("bench evaluate: the random model's sizes must be positive and hidden divisible by heads")
        }
        let loaded = try GLMGenerator.load(try path ?? DefaultModel.path())
        guard let r = random else { return loaded }
        let c = GLMConfig(numLayers: r.layers, hiddenSize: r.hidden, numAttentionHeads: r.heads, vocabSize: r.vocab,
                          maxSequenceLength: maxSequenceLength)
        return try GLMGenerator(model: try GLMModel.random(config: c, seed: seed), tokenizer: loaded.tokenizer)
    }

    /// The synthetic examples: seeded word sequences; the reference is the source's first `newTokens` words.
    public static func examples(count: Int, sourceWords: Int, newTokens: Int, seed: UInt64) -> [Seq2SeqExample] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { i in
            let words = (0..<sourceWords).map { _ in commonWords[Int(g.next() % UInt64(commonWords.count))] }
            let target = words.prefix(newTokens).joined(separator: " ")
            return Seq2SeqExample(guid: "bench-\(i)", source: words.joined(separator: " "), target: target, ref: target)
        }
    }

    /// Times every batch size of the config (after `warmupExamples` untimed examples each).
    public func run(progress: ((Row) -> Void)? = nil) throws -> [Row] {
        let evaluator = try Seq2SeqEvaluator(generator: generator, task: task)
        let all = Self.examples(count: config.warmupExamples + config.examples, sourceWords: config.sourceWords,
                                newTokens: config.newTokens, seed: config.seed)
        let warm = Array(all.prefix(config.warmupExamples)), timed = Array(all.dropFirst(config.warmupExamples))
        var rows: [Row] = []
        for batch in config.batchSizes {
            if !warm.isEmpty { _ = try evaluator.evaluate(warm, split: .test, batchSize: batch) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let result = try evaluator.evaluate(timed, split: .test, batchSize: batch)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            let row = Row(numBeams: config.numBeams, batchSize: batch, examples: timed.count, seconds: seconds,
                          tokensPerSecond: Double(timed.count * config.newTokens) / seconds,
                          rouge1: result.metrics.first?.value ?? .nan)
            rows.append(row)
            progress?(row)
        }
        return rows
    }

    /// Greedy K/V-cache decoding of one example of this workload's shape on a random model of
    /// `generator`'s size (`DecodeBenchmark`, batch 1): the plain decode beside the beam search.
    /// Returns (examples/s = 1 ÷ (prefill + newTokens steps), new tokens/s of the decode steps).
    public func greedyReference(timedRuns: Int = 3) throws -> (examplesPerSecond: Double, tokensPerSecond: Double) {
        let m = generator.model.config
        var c = DecodeBenchmark.Config()
        c.layers = m.numLayers; c.hidden = m.hiddenSize; c.heads = m.numAttentionHeads; c.vocab = m.vocabSize
        c.promptLength = config.sourceWords + 2; c.newTokens = config.newTokens; c.batch = 1
        c.timedRuns = timedRuns; c.seed = config.seed
        let r = try DecodeBenchmark(c).run()
        let exampleMs = r.prefillMsMedian + Double(config.newTokens) * r.stepMsMedian
        return (1000 / exampleMs, r.decodeTokensPerSecond)
    }

    /// The CPU as /proc/cpuinfo names it (nil elsewhere), for the benchmark's header line.
    public static func cpuModelName() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }

    /// Common English words that BERT's uncased WordPiece vocabulary holds as single tokens.
    static let commonWords = [
        "the", "and", "of", "to", "in", "that", "he", "his", "for", "they", "with", "which", "their", "was", "is", "not",
        "from", "all", "them", "were", "but", "this", "have", "by", "people", "land", "king", "city", "house", "day",
        "son", "water", "word", "good", "great", "light", "heaven", "earth", "hand", "name", "came", "went", "said",
        "made", "before", "after", "upon", "unto", "there", "when", "then", "also", "every", "man", "men", "night",
        "children", "father", "mother", "brother", "place", "time", "way", "life",
    ]
}
