// The run's JSON-lines log and its console progress line.
import Foundation

/// A JSON value small enough for log records (keys keep their order).
public enum LogValue: Sendable, Equatable {
    case int(Int), double(Double), string(String), bool(Bool)

    var json: String {
        switch self {
        case .int(let v): return String(v)
        // Shortest round-trip text: equal numbers print equally, so logs of two runs can be diffed.
        case .double(let v): return v.isFinite ? "\(v)" : "null"
        case .string(let s): return "\"" + s.unicodeScalars.map { c -> String in
            switch c {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case "\n": return "\\n"
            default: return c.value < 0x20 ? String(format: "\\u%04x", c.value) : String(c)
            }
        }.joined() + "\""
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

/// `--log FILE`: one JSON object per line. Step records carry `step`, `loss`, `lr`, `grad_norm`,
/// `tokens_per_s` (and `valid_loss` when validation ran at that step); other records carry `event`.
///
/// On resume the file is cut back to the checkpoint's step (records of steps that are about to be
/// recomputed are dropped), so the log of an interrupted-and-resumed run reads like an uninterrupted one.
public final class TrainingLog {
    public let path: String
    private let handle: FileHandle

    public init(path: String, resumingAtStep: Int?) throws {
        self.path = path
        let fm = FileManager.default
        var keep = ""
        if let step = resumingAtStep, let old = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in old.split(separator: "\n", omittingEmptySubsequences: true) {
                if let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                   let s = obj["step"] as? Int, s > step { continue }
                keep += line + "\n"
            }
        }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        guard fm.createFile(atPath: path, contents: Data(keep.utf8)), let h = FileHandle(forWritingAtPath: path) else {
            throw TrainingError.invalidOption("--log \(path): cannot create the file")
        }
        handle = h
        handle.seekToEndOfFile()
    }

    deinit { try? handle.close() }

    public func write(_ fields: [(String, LogValue)]) {
        let line = "{" + fields.map { "\"\($0.0)\":\($0.1.json)" }.joined(separator: ",") + "}\n"
        handle.write(Data(line.utf8))
    }

    /// The step record.
    public static func stepFields(_ r: StepResult, tokensPerSecond: Double, elapsed: Double, validLoss: Double?) -> [(String, LogValue)] {
        var f: [(String, LogValue)] = [("step", .int(r.step)), ("loss", .double(r.loss)), ("lr", .double(r.learningRate)),
                                       ("grad_norm", .double(r.gradNorm)), ("tokens_per_s", .double((tokensPerSecond * 10).rounded() / 10)),
                                       ("tokens", .int(r.tokens)), ("loss_tokens", .int(r.lossTokens)),
                                       ("step_s", .double((r.seconds * 1000).rounded() / 1000)),
                                       ("elapsed_s", .double((elapsed * 10).rounded() / 10))]
        if let v = validLoss { f.append(("valid_loss", .double(v))) }
        if r.skipped { f.append(("skipped", .bool(true))) }
        return f
    }
}

/// The console side: on a terminal one line rewritten in place (`\r`) with step, loss, lr, tokens/s and
/// ETA; otherwise plain lines every `interval` steps (logs of batch jobs stay readable).
public final class TrainingProgress {
    public let interactive: Bool
    public let interval: Int
    private var lineOpen = false

    public init(interactive: Bool = isatty(STDOUT_FILENO) != 0, interval: Int = 10) {
        self.interactive = interactive
        self.interval = max(1, interval)
    }

    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    public static func stepLine(_ r: StepResult, totalSteps: Int, tokensPerSecond: Double, eta: Double) -> String {
        let width = String(totalSteps).count
        let step = String(repeating: " ", count: max(0, width - String(r.step).count)) + String(r.step)
        return String(format: "step %@/%d  loss %.4f  lr %.3e  grad %.3f  %.0f tok/s  ETA %@",
                      step, totalSteps, r.loss, r.learningRate, r.gradNorm, tokensPerSecond, duration(eta))
            + (r.skipped ? "  (skipped: non-finite)" : "")
    }

    public func step(_ r: StepResult, totalSteps: Int, tokensPerSecond: Double, eta: Double) {
        let line = Self.stepLine(r, totalSteps: totalSteps, tokensPerSecond: tokensPerSecond, eta: eta)
        if interactive {
            print("\r\u{1B}[K" + line, terminator: "")
            fflush(nil)
            lineOpen = true
        } else if r.step % interval == 0 || r.step == totalSteps || r.skipped {
            print(line)
            fflush(nil)
        }
    }

    /// A permanent line (validation, saves, messages).
    public func message(_ text: String) {
        if lineOpen { print(""); lineOpen = false }
        print(text)
        fflush(nil)
    }
}
