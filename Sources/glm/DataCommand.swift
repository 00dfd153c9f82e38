import ArgumentParser
import Foundation
import GLMTraining

/// `glm data …`: pre-training data tools.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare pre-training corpora for `glm pretrain`.",
        subcommands: [DataPrepareCommand.self, DataSampleCommand.self]
    )
}

/// `glm data prepare`: corpora → a memory-mapped token dataset (token ids, document and sentence boundaries).
struct DataPrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Tokenize corpora into a binary token dataset that training memory-maps.",
        discussion: """
        Inputs are JSON lines with a "text" field (.jsonl/.json) or plain text with documents separated by \
        blank lines (any other extension; override with --format). Malformed lines are reported with file \
        and line and skipped. An interrupted run resumes when started again with the same arguments; the \
        output is the same bytes whatever the worker count or interruptions.
        """
    )

    @Option(help: "Tokenizer preset (glm-base, glm-large, glm-10b, glm-large-chinese, …).")
    var preset: String

    @Option(name: .long, parsing: .upToNextOption, help: "Input files (repeatable; several may follow one --input).")
    var input: [String]

    @Option(help: "Output directory.")
    var output: String

    @Option(name: .long, help: "Folder with the tokenizer's vocabulary files (default: the shipped ones).")
    var vocabDir: String?

    @Option(help: "Worker threads (default: the number of cores).")
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Input format for all inputs: jsonl or text (default: by extension).")
    var format: String?

    @Option(help: "Input megabytes per work chunk (the unit of parallelism and of resumption).")
    var chunkMb: Double = 4

    @Flag(help: "Keep curly quotes and en dashes (default: replaced as the original does for English corpora; kept for Chinese presets).")
    var keepPunctuation = false

    @Flag(help: "Replace an existing dataset, or an unfinished run made from other inputs or options.")
    var force = false

    func run() throws {
        let corpusFormat: CorpusFormat?
        if let format {
            guard let f = CorpusFormat(rawValue: format) else {
                throw ValidationError("--format must be one of \(CorpusFormat.allCases.map(\.rawValue).joined(separator: ", ")), not \(format)")
            }
            corpusFormat = f
        } else {
            corpusFormat = nil
        }
        guard chunkMb > 0 else { throw ValidationError("--chunk-mb must be > 0") }
        guard workers > 0 else { throw ValidationError("--workers must be > 0") }
        let tokenizer = try GLMDataTokenizer.preset(preset, vocabDirectory: vocabDir)
        let options = PrepareOptions(inputs: input, output: output, preset: preset, format: corpusFormat, workers: workers,
                                     chunkBytes: Int(chunkMb * 1_048_576),
                                     standardizePunctuation: !keepPunctuation && !preset.lowercased().contains("chinese"),
                                     force: force)
        // GLM tokenizers are Sendable (thread-safe), so the workers share one.
        let summary = try DatasetPreparer(options: options, makeTokenizer: { tokenizer }).run()
        print(summary.text)
        if !summary.examples.isEmpty && !summary.alreadyPrepared {
            print("first skipped/repaired lines:")
            for e in summary.examples { print("  \(e)") }
        }
        print("dataset: \(output)")
    }
}

/// The blank-infilling flags of the original (`arguments.py`), shared by `glm data sample` and the trainer
/// (`@OptionGroup var objective: BlankInfillingOptions`). Unset flags keep the objective preset's value,
/// or the original's command-line default.
struct BlankInfillingOptions: ParsableArguments {
    @Option(help: "Data flags of a published model's pre-training script (\(BlankInfillingConfig.presetNames.joined(separator: ", "))).")
    var objectivePreset: String?
    @Option(help: "Probability of the token-level span objective per batch (default 0.5).") var bertProb: Double?
    @Option(help: "Probability of the sentence-level objective (default 0).") var gapSentenceProb: Double?
    @Option(help: "gpt objective: probability of the suffix layout for one-document samples (default 0.5).") var gptInfillProb: Double?
    @Option(help: "gpt objective: minimum span share of the shortest sample (default 0.5).") var gptMinRatio: Double?
    @Option(help: "Share of tokens in token-level spans (default 0.15).") var bertRatio: Double?
    @Option(help: "Share of tokens in sentence spans (default 0.15).") var gapSentenceRatio: Double?
    @Option(help: "Poisson λ of span lengths (default 3).") var avgBlockLength: Double?
    @Option(help: "Probability of hiding a part-B span input token as [dBLOCK] (default 0).") var blockMaskProb: Double?
    @Option(help: "Share of context tokens next to spans hidden as [dBLOCK] (default 0).") var contextMaskRatio: Double?
    @Option(help: "Probability of cutting a batch into short sentence-aligned samples (default 0).") var shortSeqProb: Double?
    @Option(help: "Probability of one span per sample (default 0).") var singleSpanProb: Double?
    @Flag(help: "[sMASK] for sentence spans and [gMASK] for gpt spans.") var taskMask = false
    @Flag(help: "Keep part-B spans in text order.") var noShuffleBlock = false
    @Flag(help: "Block position 1 everywhere in part B instead of 1…n+1.") var noBlockPosition = false
    @Flag(help: "Do not fill a short sample with further documents.") var sampleOneDocument = false

    /// The flags as library overrides.
    var overrides: BlankInfillingOverrides {
        var o = BlankInfillingOverrides()
        o.preset = objectivePreset
        o.bertProb = bertProb; o.gapSentenceProb = gapSentenceProb; o.gptInfillProb = gptInfillProb; o.gptMinRatio = gptMinRatio
        o.bertRatio = bertRatio; o.gapSentenceRatio = gapSentenceRatio; o.avgBlockLength = avgBlockLength
        o.blockMaskProb = blockMaskProb; o.contextMaskRatio = contextMaskRatio; o.shortSeqProb = shortSeqProb
        o.singleSpanProb = singleSpanProb
        o.taskMask = taskMask; o.noShuffleBlock = noShuffleBlock; o.noBlockPosition = noBlockPosition
        o.sampleOneDocument = sampleOneDocument
        return o
    }

    func config(seqLength: Int) throws -> BlankInfillingConfig { try overrides.config(seqLength: seqLength) }
}

/// `glm data sample`: shows the training batches a prepared dataset gives, or measures them.
struct DataSampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Show blank-infilling batches of a prepared dataset (text, JSON) or measure their statistics."
    )

    @Option(help: "Prepared dataset directory (from `glm data prepare`).") var dataset: String
    @Option(help: "Packed sample length (the original's --seq-length).") var seqLength: Int = 512
    @Option(help: "Samples per batch.") var batchSize: Int = 2
    @Option(help: "First batch index.") var first: Int = 0
    @Option(help: "Number of batches.") var batches: Int = 1
    @Option(help: "Run seed.") var seed: UInt64 = 1234
    @Option(help: "Document split weights, e.g. 949,50,1 (default: all documents).") var split: String?
    @Option(help: "Which part of --split to sample from (0 = train).") var part: Int = 0
    @Flag(help: "Print each batch as one JSON object per line (text, target, loss_mask, position_id, attention_mask).") var json = false
    @Flag(help: "Print only statistics over the batches (objective mix, blanked share, span length, speed).") var stats = false
    @OptionGroup var objective: BlankInfillingOptions

    func run() throws {
        let ds = try TokenDataset(directory: dataset)
        let config = try objective.config(seqLength: seqLength)
        var documents: [Int]? = nil
        if let split {
            let parts = DocumentSplit.split(documentCount: ds.documentCount, weights: try DocumentSplit.parseWeights(split))
            guard part >= 0 && part < parts.count else { throw ValidationError("--part \(part) is not one of the \(parts.count) split parts") }
            documents = parts[part]
        }
        let source = try PackedSampleSource(store: ds, documents: documents, config: config, commands: ds.commandTokens, seed: seed)
        let batcher = try BlankInfillingBatcher(source: source, config: config, seed: seed)
        let tokenizer = (stats || json) ? nil : try? GLMDataTokenizer.preset(ds.meta.tokenizer.preset)
        var statistics = BlankingStatistics()
        let started = Date()
        for k in first..<(first + batches) {
            let batch = try batcher.batch(k, size: batchSize)
            statistics.add(batch, commands: ds.commandTokens)
            if stats { continue }
            if json {
                let object: [String: Any] = [
                    "batch": k, "mode": batch.mode.rawValue,
                    "text": batch.rows.map { $0.tokens.map(Int.init) }, "target": batch.rows.map { $0.targets.map(Int.init) },
                    "loss_mask": batch.rows.map { $0.lossMask.map(Int.init) },
                    "position_id": batch.rows.map { [$0.positions.map(Int.init), $0.blockPositions.map(Int.init)] },
                    "attention_mask": batch.sep.map(Int.init),
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                continue
            }
            print("batch \(k): \(batch.mode.rawValue), \(batch.batchSize) rows × \(batch.length)")
            for (i, row) in batch.rows.enumerated() {
                let show: ([Int32]) -> String = { ids in tokenizer?.base.decode(ids.map(Int.init)) ?? ids.map(String.init).joined(separator: " ") }
                print("  row \(i) sep \(row.sep): \(show(Array(row.tokens[..<row.sep])))")
                if row.sep < row.count { print("    part B targets: \(show(Array(row.targets[row.sep...])))") }
            }
        }
        let seconds = Date().timeIntervalSince(started)
        if stats || !json {
            print(statistics)
            print(String(format: "%.1f batches/s (%.0f sample tokens/s)", Double(batches) / seconds, Double(statistics.sampleTokens) / seconds))
        }
    }
}
