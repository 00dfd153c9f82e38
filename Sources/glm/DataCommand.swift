import ArgumentParser
import Foundation
import Training

/// `glm data …`: pre-training data tools.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare pre-training corpora for `glm pretrain`.",
        subcommands: [DataPrepareCommand.self]
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
