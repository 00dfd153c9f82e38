import ArgumentParser
import GLMCheckpoint
import Foundation
import GLM

/// `glm random-checkpoint DST --preset glm-10b --mp 4`: a random model of a published model's shapes in
/// the original training layout (fp16, as DeepSpeed saves), streamed tensor by tensor
/// (`RandomCheckpoint`). For testing conversion and loading of models that cannot be downloaded here.
struct RandomCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random-checkpoint",
        abstract: "Write a random checkpoint of a preset's shapes in the original MP layout (latest_checkpointed_iteration.txt, <tag>/mp_rank_XX_model_states.pt, weights under 'module').")

    @Argument(help: "Destination folder (created).") var destination: String
    @Option(help: "Model preset giving the shapes (e.g. glm-10b).") var preset: String
    @Option(name: [.customLong("mp"), .customLong("model-parallel-size")], help: "Model-parallel ranks.") var mp = 1
    @Option(help: "Stored dtype: f16 (DeepSpeed's), bf16 or f32.") var dtype = "f16"
    @Option(help: "Random seed.") var seed: UInt64 = 1
    @Option(name: .customLong("layers"), help: "Override the preset's layer count (smaller test models).") var layers: Int?

    func run() throws {
        guard let p = GLMPreset.named(preset) else {
            throw ValidationError("unknown preset '\(preset)'; known presets: \(GLMPreset.names.joined(separator: ", "))")
        }
        guard let d = StoredDType(userName: dtype) else { throw ValidationError("--dtype must be f16, bf16 or f32 (got '\(dtype)')") }
        guard mp >= 1 else { throw ValidationError("--mp must be at least 1") }
        var config = p.config
        if let layers {
            guard layers >= 1 else { throw ValidationError("--layers must be at least 1") }
            config.numLayers = layers
        }
        let start = Date()
        let progress = ByteProgress(label: "random-checkpoint")
        try RandomCheckpoint.write(config: config, to: destination, modelParallel: mp, dtype: d, seed: seed) { written, total in
            progress.update(done: written, total: total, detail: "\(mp) rank(s)")
        }
        progress.finish()
        print(String(format: "wrote %@: %@, %ld parameters, %@, %d model-parallel rank(s), in %.1f s", destination, config.summary,
                     config.parameterCount, d.rawValue, mp, Date().timeIntervalSince(start)))
    }
}
