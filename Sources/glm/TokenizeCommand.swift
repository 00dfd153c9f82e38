import ArgumentParser
import Foundation
import GLMSupport
import GLMTokenizers

/// `glm tokenize`: GLM tokenization from the command line — a JSON-lines filter, a readable table
/// for one text, or a single-threaded throughput benchmark.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text exactly as the original GLM does.",
        discussion: """
        Without TEXT, reads one JSON string per line on stdin and writes one JSON object per line:
        {"ids": [...], "tokens": [...], "decoded": "..."}. With --decode, reads JSON arrays of ids.
        A bad line yields {"line": N, "error": "..."} and the batch continues.
        """)

    @Option(help: "Tokenizer preset: \(TokenizerPreset.all.map(\.name).joined(separator: ", ")).")
    var preset: String

    @Option(help: "A model folder whose own vocab files (vocab.txt, vocab.json + merges.txt, cog-pretrain.model) to use.")
    var vocabDir: String?

    @Flag(help: "Read JSON arrays of ids and decode them.")
    var decode = false

    @Option(help: "Benchmark: tokenize this UTF-8 file single-threaded, line by line, and print tokens/s.")
    var bench: String?

    @Flag(help: "With --bench: encode the whole file as one string (the linear-time check).")
    var whole = false

    @Option(help: "With --bench: repeat the timed pass this many times and report the best.")
    var repeats = 3

    @Argument(help: "Text to show as a table of ids and tokens.")
    var text: String?

    func run() throws {
        let tokenizer: GLMTokenizer
        do {
            tokenizer = try TokenizerLoader.load(presetNamed: preset, vocabDirectory: vocabDir.map { URL(fileURLWithPath: $0) })
        } catch let e as TokenizerError {
            throw ValidationError(e.description)
        }
        if let bench {
            try runBenchmark(tokenizer, file: bench)
        } else if let text {
            printTable(tokenizer, text)
        } else {
            runLines(tokenizer)
        }
    }

    private func printTable(_ tok: GLMTokenizer, _ text: String) {
        let ids = tok.encode(text)
        print("preset \(tok.name): \(ids.count) tokens (vocab \(tok.numTokens), padded \(tok.paddedVocabSize))")
        print(" pos       id  token")
        for (i, id) in ids.enumerated() {
            let t = tok.token(for: id) ?? "?"
            print(String(format: "%4d %8d  ", i, id) + JSONText.quote(t))
        }
        print("decoded: " + JSONText.quote(tok.decode(ids)))
    }

    private func runLines(_ tok: GLMTokenizer) {
        var lineNumber = 0
        var output = ""
        while let line = readLine(strippingNewline: true) {
            lineNumber += 1
            let bytes = Array(line.utf8)
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                let ids: [Int]
                if decode {
                    ids = try JSONText.parseIntArray(bytes)
                    if let bad = ids.first(where: { tok.token(for: $0) == nil }) {
                        throw LineError(message: "id \(bad) is not in the vocabulary of \(tok.name) (\(tok.numTokens) tokens)")
                    }
                } else {
                    ids = tok.encode(try JSONText.parseString(bytes))
                }
                let tokens = ids.map { JSONText.quote(tok.token(for: $0) ?? "") }
                output += "{\"ids\": [" + ids.map(String.init).joined(separator: ", ") + "], \"tokens\": ["
                    + tokens.joined(separator: ", ") + "], \"decoded\": " + JSONText.quote(tok.decode(ids)) + "}\n"
            } catch {
                output += "{\"line\": \(lineNumber), \"error\": " + JSONText.quote("line \(lineNumber): \(error)") + "}\n"
                FileHandle.standardError.write(Data("glm tokenize: line \(lineNumber): \(error)\n".utf8))
            }
            if output.utf8.count > 1 << 16 {
                FileHandle.standardOutput.write(Data(output.utf8))
                output = ""
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    private func runBenchmark(_ tok: GLMTokenizer, file: String) throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("cannot read benchmark file \(file)")
        }
        // Lines are split on "\n" bytes only (as Python's split('\n')), so every implementation in the
        // benchmark sees the same inputs; "\r" stays inside its line.
        let inputs: [String] = whole ? [String(decoding: data, as: UTF8.self)]
            : data.split(separator: 0x0A, omittingEmptySubsequences: true).map { String(decoding: $0, as: UTF8.self) }
        // Wall time and process CPU time (the fairer figure on a shared machine), best of `repeats`.
        var bestWall = Double.infinity, bestCPU = Double.infinity
        var tokens = 0
        for _ in 0..<max(1, repeats) {
            let start = DispatchTime.now().uptimeNanoseconds
            let cpuStart = clock()
            var count = 0
            for s in inputs { count += tok.encode(s).count }
            bestCPU = min(bestCPU, Double(clock() - cpuStart) / Double(CLOCKS_PER_SEC))
            bestWall = min(bestWall, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            tokens = count
        }
        let mb = Double(data.count) / 1e6
        print(String(format: "{\"preset\": \"%@\", \"family\": \"%@\", \"mode\": \"%@\", \"bytes\": %d, \"inputs\": %d, \"tokens\": %d, \"seconds\": %.4f, \"cpu_seconds\": %.4f, \"tokens_per_s\": %.0f, \"tokens_per_cpu_s\": %.0f, \"mb_per_s\": %.2f}",
                     tok.name, tok.family.rawValue, whole ? "whole" : "lines", data.count, inputs.count, tokens, bestWall, bestCPU,
                     Double(tokens) / bestWall, Double(tokens) / bestCPU, mb / bestWall))
    }
}

/// A problem with one input line of `glm tokenize`.
private struct LineError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
