import ArgumentParser
import Foundation
import GLMBenchmarks
import GLMEngine
import GLMGeneration

/// `glm bench weights`: quality of bf16 and int8 decoding weights against fp32 — the measurement behind
/// the default `--weights` of `glm generate` and `glm serve` (the fastest format whose top-1 agreement
/// with fp32 is ≥ 99.5 % on the built-in model).
struct BenchWeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Top-1 agreement and max |Δ logit| of bf16 and int8 decoding weights against fp32 (greedy generation).",
        discussion: """
            --prompts FILE: one text per line; a line without [MASK] gets its middle word replaced by [MASK] \
            (e.g. the held-out verses of scripts/train-default-model.sh, valid-verses.txt). Each prompt is \
            generated greedily with fp32 weights and with each candidate format; steps are compared while the \
            runs agree (see DecodingWeightsQuality). The last line is JSON.
            """)

    @Option(help: "Model (default: the built-in model).") var model: String?
    @Option(help: "Prompts, one per line.") var prompts: String
    @Option(help: "Use at most this many prompts.") var count: Int?
    @Option(help: "Tokens generated per blank.") var maxLength = 16
    @Option(help: "Formats to compare with fp32, comma-separated.") var weights = "bf16,int8"
    @Option(help: "Threads for oneDNN and the kernels.") var threads = 2

    func run() throws {
        Runtime.setThreads(threads)
        let formats = try weights.split(separator: ",").map { name -> GEMMInputType in
            guard let t = GEMMInputType(shortName: String(name)), t != .float32 else {
                throw ValidationError("--weights: '\(name)' is not bf16 or int8")
            }
            return t
        }
        let texts = try Self.maskedPrompts(file: prompts, limit: count)
        func load(_ w: GEMMInputType) throws -> GLMGenerator {
            if let model { return try GLMGenerator.load(model, packedWeights: w) }
            return try GLMGenerator.loadDefault(packedWeights: w)
        }
        let reference = try load(.float32)
        print("glm bench weights — \(EvaluateBenchmark.cpuModelName() ?? "unknown CPU"), \(Runtime.threads) thread(s); "
              + "\(model ?? "built-in model"), \(texts.count) prompts from \(prompts), \(maxLength) tokens per blank")
        var results: [String] = []
        for w in formats {
            let start = Date()
            let q = try DecodingWeightsQuality.measure(reference: reference, candidate: try load(w), prompts: texts,
                                                       maxLength: maxLength)
            print("  \(w.shortName) vs fp32: \(q.summary) (\(String(format: "%.0f", Date().timeIntervalSince(start))) s)")
            results.append(String(format: "\"%@\": {\"agreement\": %.6f, \"steps\": %d, \"identical\": %d, \"prompts\": %d, \"max_abs_logit_diff\": %.6g}",
                                  w.shortName, q.agreement, q.steps, q.identicalPrompts, q.prompts, q.maxLogitDifference))
        }
        print("{" + results.joined(separator: ", ") + "}")
    }

    /// The file's non-empty lines, each with one [MASK]: its own, or its middle word replaced.
    static func maskedPrompts(file: String, limit: Int?) throws -> [String] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw ValidationError("--prompts \(file): not a readable UTF-8 file")
        }
        var out: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let s = line.trimmingCharacters(in: .whitespaces)
            if s.isEmpty { continue }
            if let limit, out.count >= limit { break }
            if s.contains("[MASK]") || s.contains("[sMASK]") || s.contains("[gMASK]") { out.append(s); continue }
            var words = s.split(separator: " ").map(String.init)
            guard words.count >= 3 else { continue }
            words[words.count / 2] = "[MASK]"
            out.append(words.joined(separator: " "))
        }
        guard !out.isEmpty else { throw ValidationError("--prompts \(file): no line of three or more words") }
        return out
    }
}
