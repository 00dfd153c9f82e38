// Progress, warnings and the closing summary of `glm data prepare`.
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counters of a running preparation, shared by the workers.
public struct PrepareProgress: Sendable {
    public var documents = 0
    public var tokens = 0
    /// Input bytes of the chunks finished in this run.
    public var bytesDone = 0
    /// Input bytes of all chunks still to do when this run started.
    public var bytesToDo = 0
    public var chunksDone = 0
    public var chunksToDo = 0
    public var elapsed = 0.0

    /// One line: documents, docs/s, tokens, tokens/s, share done and ETA.
    public var line: String {
        let t = max(elapsed, 1e-6)
        let share = bytesToDo > 0 ? min(1, Double(bytesDone) / Double(bytesToDo)) : 1
        let eta = share > 0 && share < 1 ? elapsed / share - elapsed : 0
        return "prepare: \(documents.grouped) docs (\(Int(Double(documents) / t).grouped)/s), \(tokens.grouped) tokens (\(Int(Double(tokens) / t).grouped)/s), chunks \(chunksDone)/\(chunksToDo), \(Int(share * 100)) %, ETA \(formatDuration(eta))"
    }
}

/// Where the preparer reports to.
public protocol PrepareReporter: Sendable {
    /// A skipped or repaired input line: "file:line: reason".
    func warning(_ message: String)
    /// Called about twice a second while working, and once with `final == true` at the end.
    func progress(_ progress: PrepareProgress, final: Bool)
}

/// Standard error: an updating `\r` line on a terminal, a plain line every `logInterval` seconds otherwise.
public final class ConsoleReporter: PrepareReporter, @unchecked Sendable {
    // @unchecked: the mutable timing state is guarded by `lock`.
    private let lock = NSLock()
    private let isTerminal: Bool
    private let logInterval: Double
    private var lastLog = Date.distantPast
    private var lineOpen = false

    public init(logInterval: Double = 10) {
        isTerminal = isatty(2) == 1
        self.logInterval = logInterval
    }

    public func warning(_ message: String) {
        lock.lock(); defer { lock.unlock() }
        if lineOpen { write("\n"); lineOpen = false }
        write("warning: \(message)\n")
    }

    public func progress(_ progress: PrepareProgress, final: Bool) {
        lock.lock(); defer { lock.unlock() }
        if isTerminal {
            write("\r\(progress.line)\u{1B}[K" + (final ? "\n" : ""))
            lineOpen = !final
        } else if final || Date().timeIntervalSince(lastLog) >= logInterval {
            write(progress.line + "\n")
            lastLog = Date()
        }
    }

    private func write(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }
}

/// The outcome of a preparation.
public struct PrepareSummary: Sendable {
    /// false when the run stopped before all chunks were done (run again to resume).
    public var complete: Bool
    /// true when the output already held this dataset and nothing was done.
    public var alreadyPrepared = false
    public var documents = 0
    public var tokens = 0
    public var tokenDType = ""
    public var chunksTotal = 0
    public var chunksReused = 0
    public var chunksDone = 0
    public var seconds = 0.0
    public var skippedByReason: [String: Int] = [:]
    public var repairedByReason: [String: Int] = [:]
    /// The first skipped / repaired lines as "file:line: reason" (all are counted in the *ByReason maps).
    public var examples: [String] = []

    public var skippedLines: Int { skippedByReason.values.reduce(0, +) }

    public var text: String {
        var lines: [String] = []
        if alreadyPrepared { lines.append("already prepared (same inputs and options); nothing to do") }
        if !complete {
            lines.append("stopped after \(chunksDone) of \(chunksTotal - chunksReused) chunks; run the same command again to resume")
            return lines.joined(separator: "\n")
        }
        if alreadyPrepared {
            lines.append("documents: \(documents.grouped), tokens: \(tokens.grouped) (\(tokenDType))")
        } else {
            lines.append("documents: \(documents.grouped), tokens: \(tokens.grouped) (\(tokenDType)), chunks: \(chunksTotal) (\(chunksReused) reused from an earlier run), \(String(format: "%.1f", seconds)) s")
        }
        if skippedByReason.isEmpty {
            lines.append("skipped lines: none")
        } else {
            lines.append("skipped lines: \(skippedLines.grouped) — " + skippedByReason.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        }
        if !repairedByReason.isEmpty {
            lines.append("repaired (kept): " + repairedByReason.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        }
        return lines.joined(separator: "\n")
    }
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
}

extension Int {
    /// 1234567 → "1,234,567".
    var grouped: String {
        let digits = String(Swift.abs(self))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (self < 0 ? "-" : "") + out
    }
}

extension PrepareError {
    /// Every line of every input was skipped: the message names the inputs and the reasons, since an
    /// empty dataset would otherwise only fail later, in training.
    static func noUsableDocument(inputs: [String], summary: PrepareSummary) -> PrepareError {
        let reasons = summary.skippedByReason.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        return PrepareError("no usable document found in \(inputs.joined(separator: ", "))"
                            + (reasons.isEmpty ? " (no text)" : " (skipped lines: \(reasons))") + "; no dataset was written")
    }
}
