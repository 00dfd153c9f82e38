import ArgumentParser
import GLMCheckpoint
import Foundation
import GLM

/// `glm convert SRC DST`: any checkpoint layout → safetensors + config.json (streamed tensor by tensor,
/// optionally to bf16/f16/f32 or the int8 format), or with `--mp N` → the original training-checkpoint
/// folder split into N model-parallel ranks.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a GLM checkpoint between layouts and weight formats (safetensors f32/bf16/f16/int8, original training folder with N model-parallel ranks).",
        discussion: """
        SRC may be a folder with config.json + model.safetensors / pytorch_model.bin (single or sharded), \
        an original training folder (latest_checkpointed_iteration.txt or latest → <tag>/mp_rank_XX_model_states.pt, \
        any number of ranks), or a single weights file. Without --mp, DST receives model.safetensors (or shards with \
        --max-shard-bytes) and config.json, written ONE TENSOR AT A TIME (model-parallel ranks merged tensor by \
        tensor): memory stays near the largest tensor, whatever the model's size. --dtype int8 quantises the layers' \
        linear weights per output row (I8 <name> + F32 <name>.scale, metadata glm.weights=int8-per-row-v1; \
        embeddings BF16, LayerNorms and biases F32); glm generate/serve load bf16 and int8 conversions memory-mapped. \
        With --mp N the output is the original layout split with change_mp.py's rule, plus config.json.
        """)

    @Argument(help: "Source model (folder or file).")
    var source: String

    @Argument(help: "Destination folder.")
    var destination: String

    @Option(name: [.customLong("mp"), .customLong("model-parallel-size")], help: "Write the original training layout split into N model-parallel ranks.")
    var mp: Int?

    @Option(help: "Weight format of the output: f32, bf16, f16 or int8 (int8: safetensors only; default: keep the source's).")
    var dtype: String?

    @Option(help: "Iteration (tag) for the original layout; default: the source's iteration, else 'release'.")
    var iteration: Int?

    @Option(name: [.customLong("max-shard-bytes"), .customLong("shard-size")],
            help: "Split safetensors output into shards of at most this size (bytes, or with a K/M/G suffix: 5G), with model.safetensors.index.json.")
    var maxShardBytes: String?

    @OptionGroup var model: ModelOptions

    func run() throws {
        var target: ConversionTarget = .float(nil)
        if let d = dtype {
            if d.lowercased() == "int8" {
                target = .int8
            } else {
                guard let t = StoredDType(userName: d) else { throw ValidationError("--dtype must be f32, bf16, f16 or int8 (got '\(d)')") }
                target = .float(t)
            }
        }
        if let mp, mp < 1 { throw ValidationError("--mp must be at least 1") }
        var shardBytes: Int?
        if let s = maxShardBytes {
            guard let b = Self.parseBytes(s), b > 0 else { throw ValidationError("--max-shard-bytes must be a positive size such as 2000000000 or 5G (got '\(s)')") }
            shardBytes = b
        }
        let start = Date()
        if let mp {
            guard target != .int8 else { throw ValidationError("--dtype int8 writes safetensors only: drop --mp") }
            var floatTarget: StoredDType?
            if case .float(let d) = target { floatTarget = d }
            let loaded = try ModelFiles.load(source, options: model.loadOptions)
            let it = iteration ?? loaded.iteration
            try ModelWriter.saveTrainingCheckpoint(config: loaded.config, weights: loaded.weights, to: destination,
                                                   modelParallel: mp, iteration: it, dtype: floatTarget)
            print("wrote \(destination): original layout, tag \(it.map(String.init) ?? "release"), \(mp) model-parallel rank(s)")
            print("  from \(loaded.layout.rawValue) \(loaded.path) (\(loaded.files.count) file(s)), \(loaded.config.summary), \(loaded.parameterCount) parameters, dtype \(target.name) in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
            return
        }
        let progress = ByteProgress(label: "convert")
        let r = try StreamingConverter.convert(source: source, to: destination, target: target, maxShardBytes: shardBytes,
                                               options: model.loadOptions) { written, total, done, count in
            progress.update(done: written, total: total, detail: "tensor \(done)/\(count)")
        }
        progress.finish()
        print("wrote \(destination): \(r.files.count == 1 ? "model.safetensors" : "\(r.files.count) shards + model.safetensors.index.json") + config.json, \(target.name)")
        print(String(format: "  from %@ %@ (%d file(s)%@), %@, %d tensors, %.2f GB written in %.1f s; peak tensor working set %.1f MB",
                     r.layout.rawValue, source, r.sourceFiles, r.modelParallelSize > 1 ? ", \(r.modelParallelSize) model-parallel ranks merged" : "",
                     r.config.summary, r.tensors, Double(r.bytesWritten) / 1e9, r.seconds, Double(r.peakHeldBytes) / 1e6))
    }

    /// "123", "5G", "512M", "64K" (powers of 1000, as file sizes are usually quoted).
    static func parseBytes(_ s: String) -> Int? {
        let t = s.trimmingCharacters(in: .whitespaces).uppercased().replacingOccurrences(of: "B", with: "")
        let units: [Character: Double] = ["K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12]
        if let last = t.last, let u = units[last], let v = Double(t.dropLast()) { return Int(v * u) }
        return Int(t)
    }
}

/// Progress of a long byte-producing job: on a terminal one line rewritten in place with the rate and
/// ETA; otherwise a plain line every 10 s (logs stay readable).
final class ByteProgress {
    let label: String
    let start = Date()
    var last = Date.distantPast
    let terminal = isatty(STDERR_FILENO) != 0
    var printed = false

    init(label: String) { self.label = label }

    func update(done: Int, total: Int, detail: String) {
        let now = Date()
        guard now.timeIntervalSince(last) >= (terminal ? 0.5 : 10) || done == total else { return }
        last = now
        let elapsed = now.timeIntervalSince(start)
        let rate = Double(done) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "%@: %.2f / %.2f GB (%.0f %%), %.0f MB/s, ETA %.0f s, %@", label, Double(done) / 1e9,
                          Double(total) / 1e9, 100 * Double(done) / Double(max(total, 1)), rate / 1e6, eta, detail)
        if terminal {
            FileHandle.standardError.write(Data(("\r" + line + "\u{1B}[K").utf8))
            printed = true
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func finish() {
        if terminal && printed { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
