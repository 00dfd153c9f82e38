import ArgumentParser
import Foundation
import GLM
import GLMGeneration
import GLMTasks

/// The task settings `glm evaluate` can take for SuperGLUE: the published models' configurations.
enum SuperGLUEConfig: String, ExpressibleByArgument, CaseIterable {
    case glmLarge = "glm-large", glm10B = "glm-10b"
}

/// The SuperGLUE options of `glm evaluate` (each overrides the config's value).
struct SuperGLUEEvaluateOptions: ParsableArguments {
    @Option(help: "SuperGLUE: the settings of glm-large (config_tasks/task_*.sh, default) or glm-10b (scripts/ds_finetune_superglue.sh: --task-mask, pattern 0).")
    var config: SuperGLUEConfig?
    @Option(name: .customLong("pattern-id"), help: "SuperGLUE: the pattern of the task's PVP (default: the config's).")
    var patternId: Int?

    var isSet: Bool { config != nil || patternId != nil }
}

extension EvaluateCommand {
    func runSuperGLUE() throws {
        guard let kind = task.superGLUE else { return }
        var settings = superGLUE.config == .glm10B ? SuperGLUESettings.glm10B(kind) : SuperGLUESettings.glmLarge(kind)
        if let k = superGLUE.patternId {
            guard kind.patternIds.contains(k) else {
                throw ValidationError("--pattern-id \(k): \(kind.rawValue) has patterns \(kind.patternIds.map(String.init).joined(separator: ", "))")
            }
            settings.patternId = k
        }
        if let s = seqLengthOption { settings.seqLength = s }
        if let lp = lengthPenalty { settings.lengthPenalty = lp }
        let modelPath = try model ?? DefaultModel.path()
        let generator = try GLMGenerator.load(modelPath, options: modelOptions.loadOptions, packedWeights: nil)
        // A P-tuned model (glm finetune --continuous-prompt) keeps its prompt encoder next to it.
        let prompts = try PromptEncoderFile.load(folder: modelPath)
        prompts?.apply(to: &settings)
        let dataset = try SuperGLUEDataset(settings: settings, split: .dev, folder: data, tokenizer: generator.tokenizer)
        let result = try SuperGLUEEvaluator.evaluate(dataset, model: generator.model, evalBatchSize: batchSize,
                                                     promptEncoder: prompts?.encoder)
        if let predictions {
            // Scores of the sample that decided each guid (the last one: WSC chunks share a guid).
            var lastSample: [String: Int] = [:]
            for (i, s) in dataset.samples.enumerated() { lastSample[s.uid] = i }
            var lines = ""
            for (i, uid) in result.cloze.uids.enumerated() {
                let scores = result.cloze.maskedScores[lastSample[uid]!].map { String($0) }.joined(separator: ", ")
                lines += "{\"uid\": \(jsonString(uid)), \"prediction\": \(result.cloze.predictions[i]), "
                    + "\"label\": \(result.cloze.labels[i]), \"scores\": [\(scores)]}\n"
            }
            try lines.write(toFile: predictions, atomically: true, encoding: .utf8)
        }
        let metrics = result.metrics.map { "\(jsonString($0.name)): \($0.value)" }.joined(separator: ", ")
        print("{\"task\": \(jsonString(kind.rawValue)), \"split\": \"dev\", \"examples\": \(result.examples), \"metrics\": {\(metrics)}}")
    }
}
