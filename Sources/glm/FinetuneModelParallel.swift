import ArgumentParser
import GLM
import GLMCheckpoint
import GLMEngine
import GLMGeneration
import GLMTokenizers

/// `glm finetune --model-parallel-size M` (tensor model parallelism, as `glm pretrain`): every rank loads
/// the whole model as one process does and keeps its `ModelParallel.split` partition; the N/M
/// data-parallel groups train as without model parallelism. The fine-tuned model is merged again before
/// it is saved, so `glm evaluate` and `glm generate` read it as any one-process result.
extension FinetuneCommand {
    /// What `--model-parallel-size` cannot be combined with, named (checked before any work).
    func checkModelParallelSupport(_ job: DistributedJob?) throws {
        guard job?.modelParallel != nil else { return }
        if continuousPrompt || (prefixPrompt ?? 0) > 0 || freezeTransformer {
            throw ValidationError("--model-parallel-size \(distributed.modelParallelSize): continuous prompts (--continuous-prompt, --prefix-prompt, --freeze-transformer) are not supported with tensor model parallelism (a split model takes no prompt embeddings); use --model-parallel-size 1")
        }
    }

    /// The model this rank trains and the tokenizer: `--model` loaded as `glm generate` loads it, or with
    /// model parallelism this rank's partition of it (the whole model is dropped on return: it is held only
    /// while the partition is cut).
    func loadRankModel(_ job: DistributedJob?) throws -> (model: GLMModel, tokenizer: any Tokenizer) {
        let loaded = try GLMGenerator.load(try model ?? DefaultModel.path(), options: modelOptions.loadOptions, packedWeights: nil)
        guard let group = job?.modelParallel else { return (loaded.model, loaded.tokenizer) }
        return (try GLMModel(partitioning: loaded.model, group: group), loaded.tokenizer)
    }

    /// The model to write at the end: `model` itself, or with model parallelism the partitions merged
    /// (`fullStateDict`, a collective over each model-parallel group) on global rank 0; nil on every other rank.
    func modelToSave(_ model: GLMModel, _ job: DistributedJob?) throws -> GLMModel? {
        guard model.modelParallel != nil else { return (job?.isRoot ?? true) ? model : nil }
        let weights = try model.fullStateDict()
        guard job?.isRoot ?? true else { return nil }
        return try GLMModel(config: model.config, stateDict: Dictionary(uniqueKeysWithValues: weights))
    }

    /// The console line of the parallel layout (rank 0 shows it).
    func parallelDescription(_ job: DistributedJob?, batchSize: Int) -> String? {
        guard let job else { return nil }
        let dp = job.dataParallel
        var line = "data parallel: \(dp.size) ranks × --batch-size \(batchSize)" + (dp.zeroStage == 1 ? ", AdamW moments sharded over the ranks (ZeRO-1)" : "")
        if let mp = job.modelParallel {
            line += "; tensor model parallel: \(mp.size) ranks per model (each holds 1/\(mp.size) of the heads, the MLP and the vocabulary)"
        }
        return line
    }
}
