import ArgumentParser
import GLMEngine
import Foundation
import GLM
import GLMGeneration

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `glm generate`: blank filling as THUDM/GLM generate_samples.py, on the K/V cache.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Fill the [MASK]/[sMASK]/[gMASK] blanks of a prompt (as the original generate_samples.py).",
        discussion: """
            glm generate --model MODEL "Tsinghua University is located in [MASK]."   prints the filled text.
            With no prompt and a terminal on stdin: an interactive loop (type stop or Ctrl-D to end), tokens \
            streamed as they are generated. With --jsonl: one {"prompt": "..."} per stdin line, one JSON \
            object per output line {"prompt", "context_ids", "blanks": [{"mask_position", "ids", "text"}], \
            "ids", "output", "text"} ("warning" when nothing could be filled, "error" for a bad line). \
            With no prompt and stdin not a terminal: every stdin line is a prompt, one filled text per line.
            A prompt without a mask gets " [gMASK]" (models with task masks) or " [MASK]" appended.
            """)

    @Argument(help: "The prompt (with [MASK] where a blank should be filled).") var prompt: String?

    @Option(help: "Model folder or weights file (any layout glm convert reads). Default: the built-in model.")
    var model: String?
    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "greedy, sample or beam.") var strategy: Strategy = .greedy
    @Option(name: .customLong("max-length"), help: "New tokens per blank at most (the original's --out-seq-length; default 256, at most the model's positions).")
    var maxLength: Int?
    @Option(help: "Sampling temperature.") var temperature: Float = 1.0
    @Option(name: .customLong("top-k"), help: "Sampling/beam: keep the k most likely tokens (0 = all).") var topK = 0
    @Option(name: .customLong("top-p"), help: "Sampling/beam: nucleus probability (0 = off).") var topP: Float = 0
    @Option(name: .customLong("num-beams"), help: "Beam search: number of beams.") var numBeams = 4
    @Option(name: .customLong("length-penalty"), help: "Beam search: score = sum log p / len^penalty.") var lengthPenalty = 0.0
    @Option(name: .customLong("no-repeat-ngram"), help: "No n-gram of this size repeats within a blank (0 = off).")
    var noRepeatNGram = 0
    @Option(name: .customLong("min-length"), help: "End tokens are blocked until a blank has this many tokens.")
    var minLength = 0
    @Option(help: "Seed of sampling (each prompt's generator starts from it).") var seed: UInt64 = 1234
    @Flag(name: .customLong("select-topk"), help: "Beam search: take the 2·beams best candidates instead of sampling them.")
    var selectTopK = false
    @Flag(name: .customLong("real-tokens-only"), help: "Never choose the padding ids of the vocabulary (the original can).")
    var realTokensOnly = false
    @Option(name: [.customLong("weights"), .customLong("dtype")], help: DecodingWeightsOption.help) var weights: DecodingWeightsOption = .auto
    @Option(name: .customLong("kv-cache"), help: KVCacheOption.help) var kvCache: KVCacheOption = .auto
    @Option(help: MemoryMapOption.help) var mmap: MemoryMapOption = .auto
    @Option(help: "Threads for oneDNN and the kernels.") var threads: Int?
    @Flag(help: "With a prompt argument: print load time, time to the first token (prompt + first step) and the decode rate of the later tokens on stderr.")
    var timing = false
    @Flag(help: "Read {\"prompt\": ...} JSON lines on stdin, write one JSON result per line.") var jsonl = false
    @Option(name: .customLong("batch-size"), help: "--jsonl / line mode: prompts generated together.") var batchSize = 8

    enum Strategy: String, ExpressibleByArgument, CaseIterable { case greedy, sample, beam }

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be ≥ 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if jsonl && prompt != nil { throw ValidationError("--jsonl reads prompts from stdin: drop the prompt argument") }
    }

    var options: GenerationOptions {
        let s: DecodingStrategy
        switch strategy {
        case .greedy: s = .greedy
        case .sample: s = .sample(SamplingOptions(temperature: temperature, topK: topK, topP: topP))
        case .beam: s = .beam(BeamSearchOptions(numBeams: numBeams, lengthPenalty: lengthPenalty, selectTopK: selectTopK,
                                                topK: topK, topP: topP))
        }
        return GenerationOptions(strategy: s, maxLength: maxLength ?? 256, minLength: minLength, noRepeatNGramSize: noRepeatNGram,
                                 seed: seed, restrictToRealTokens: realTokensOnly)
    }

    func run() throws {
        if let threads { Runtime.setThreads(threads) }
        let path = try model ?? DefaultModel.path()
        let (storage, mapped) = try weights.resolved(forModelAt: path, mmap: mmap)
        let loadStart = Date()
        let generator = try GLMGenerator.load(path, options: modelOptions.loadOptions, packedWeights: storage, mapConverted: mapped)
        generator.kvCacheStorage = kvCache.storage(forWeights: storage)
        if mapped {
            warn(String(format: "%@: %@ weights memory-mapped (%@), loaded in %.1f s", path, storage.shortName,
                        generator.model.config.summary, Date().timeIntervalSince(loadStart)))
        }
        let options = self.options
        let limit = generator.model.config.maxSequenceLength
        if let m = maxLength, m > limit { warn("--max-length \(m) exceeds the model's \(limit) positions: using \(limit)") }
        if let prompt {
            let started = Date()
            var tokenTimes: [Date] = []
            let r = try generator.generate(prompt, options: options) { event in
                if timing, case .token = event { tokenTimes.append(Date()) }
            }
            if let w = r.warning { warn(w) }
            print(r.text)
            if timing, let first = tokenTimes.first {
                let later = tokenTimes.count - 1
                let decode = later > 0 ? tokenTimes.last!.timeIntervalSince(first) : 0
                warn(String(format: "timing: load %.2f s, first token %.2f s after the start (prompt + one step), %d later token(s) in %.2f s = %.2f tokens/s",
                            started.timeIntervalSince(loadStart), first.timeIntervalSince(started), later, decode,
                            later > 0 ? Double(later) / decode : 0))
            }
        } else if jsonl {
            try runLines(generator, options) { r in GenerationJSONLines.line(for: r) } failure: { message, line, prompt in
                GenerationJSONLines.errorLine(message, line: line, prompt: prompt)
            }
        } else if isatty(STDIN_FILENO) != 0 {
            interactive(generator, options)
        } else {
            try runLines(generator, options) { r in r.text } failure: { message, line, _ in
                warn("line \(line): \(message)")
                return ""
            }
        }
    }

    /// Reads stdin lines in batches of --batch-size and writes one output line per input line, in order.
    /// A bad line produces its own failure line and never stops the others.
    func runLines(_ g: GLMGenerator, _ options: GenerationOptions, success: (GenerationResult) -> String,
                  failure: (String, Int, String?) -> String) throws {
        var pending: [(line: Int, prompt: Result<String, GenerationError>)] = []
        var lineNumber = 0, failures = 0
        func flush() {
            let good = pending.compactMap { try? $0.prompt.get() }
            var results = g.generate(good, options: options)[...]
            for item in pending {
                switch item.prompt {
                case .failure(let e):
                    failures += 1
                    print(failure(e.description, item.line, nil))
                case .success(let p):
                    switch results.removeFirst() {
                    case .success(let r):
                        if let w = r.warning { warn("line \(item.line): \(w)") }
                        print(success(r))
                    case .failure(let e):
                        failures += 1
                        print(failure("\(e)", item.line, p))
                    }
                }
            }
            fflush(nil)
            pending.removeAll()
        }
        while let line = readLine(strippingNewline: true) {
            lineNumber += 1
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            pending.append((lineNumber, jsonl ? GenerationJSONLines.prompt(fromLine: line) : .success(line)))
            if pending.count == batchSize { flush() }
        }
        flush()
        if failures > 0 { warn("\(failures) of the input lines failed (see their error lines)") }
    }

    /// The original's generate_block.sh loop: prompt, answer (streamed), again; `stop` or EOF ends.
    func interactive(_ g: GLMGenerator, _ options: GenerationOptions) {
        print("GLM blank filling — \(g.model.config.numLayers) layers, hidden \(g.model.config.hiddenSize), tokenizer \(g.tokenizer.name), "
              + "\(strategy.rawValue), max length \(min(options.maxLength, g.model.config.maxSequenceLength)). Type stop (or Ctrl-D) to end.")
        while true {
            print("\nContext prompt (stop to exit) >>> ", terminator: "")
            fflush(nil)
            guard let line = readLine(strippingNewline: true), line != "stop" else { print(""); return }
            if line.isEmpty { print("Prompt should not be empty!"); continue }
            do {
                let start = Date()
                var currentBlank = -1
                print("GLM:", terminator: "")
                let r = try g.generate(line, options: options) { event in
                    if case let .token(_, blank, _, text) = event {
                        if blank != currentBlank {
                            print(currentBlank < 0 ? " [\(blank + 1)] " : "\n     [\(blank + 1)] ", terminator: "")
                            currentBlank = blank
                        }
                        print(text, terminator: "")
                        fflush(nil)
                    }
                }
                print("")
                if let w = r.warning { warn(w) }
                print("Filled: \(r.text)")
                print(String(format: "(%.2f s)", Date().timeIntervalSince(start)))
            } catch {
                print("")
                warn("\(error)")
            }
        }
    }

    func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }
}
