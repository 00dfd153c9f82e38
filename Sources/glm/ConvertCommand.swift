import ArgumentParser
import GLMCheckpoint
import Foundation
import GLM

/// `glm convert SRC DST`: any checkpoint layout → safetensors + config.json, or with `--mp N` → the
/// original training-checkpoint folder split into N model-parallel ranks.
struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a GLM checkpoint between layouts (safetensors, original training folder with N model-parallel ranks).",
        discussion: """
        SRC may be a folder with config.json + model.safetensors / pytorch_model.bin (single or sharded), \
        an original training folder (latest_checkpointed_iteration.txt or latest → <tag>/mp_rank_XX_model_states.pt, \
        any number of ranks), or a single weights file. Without --mp, DST receives model.safetensors and config.json; \
        with --mp N it receives the original layout split with change_mp.py's rule, plus config.json.
        """)

    @Argument(help: "Source model (folder or file).")
    var source: String

    @Argument(help: "Destination folder.")
    var destination: String

    @Option(help: "Write the original training layout split into N model-parallel ranks.")
    var mp: Int?

    @Option(help: "Weight dtype of the output: f32, bf16 or f16 (default: keep the source's).")
    var dtype: String?

    @Option(help: "Iteration (tag) for the original layout; default: the source's iteration, else 'release'.")
    var iteration: Int?

    @Option(help: "Split safetensors output into shards of at most this many bytes (with model.safetensors.index.json).")
    var maxShardBytes: Int?

    @OptionGroup var model: ModelOptions

    func run() throws {
        var target: StoredDType?
        if let d = dtype {
            guard let t = StoredDType(userName: d) else { throw ValidationError("--dtype must be f32, bf16 or f16 (got '\(d)')") }
            target = t
        }
        if let mp, mp < 1 { throw ValidationError("--mp must be at least 1") }
        let start = Date()
        let loaded = try ModelFiles.load(source, options: model.loadOptions)
        if let mp {
            let it = iteration ?? loaded.iteration
            try ModelWriter.saveTrainingCheckpoint(config: loaded.config, weights: loaded.weights, to: destination,
                                                   modelParallel: mp, iteration: it, dtype: target)
            print("wrote \(destination): original layout, tag \(it.map(String.init) ?? "release"), \(mp) model-parallel rank(s)")
        } else {
            try ModelWriter.saveSafetensors(config: loaded.config, weights: loaded.weights, to: destination,
                                            dtype: target, maxShardBytes: maxShardBytes)
            print("wrote \(destination): model.safetensors\(maxShardBytes != nil ? " (sharded if larger than the limit)" : "") + config.json")
        }
        print("  from \(loaded.layout.rawValue) \(loaded.path) (\(loaded.files.count) file(s)), \(loaded.config.summary), \(loaded.parameterCount) parameters, dtype \(target?.rawValue ?? "unchanged") in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }
}
