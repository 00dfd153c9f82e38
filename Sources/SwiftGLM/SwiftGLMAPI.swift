// The one page of SwiftGLM most programs need: load, tokenize, fill blanks, score choices, train, finetune.
//
//     import SwiftGLM
//
//     let glm = try GLMPipeline.loadDefault()                     // or .load("path/to/glm-large", preset: "glm-large")
//     let ids = glm.tokenize("Hello world")                       // the original's EncodeAsIds
//     let one = try glm.fill("The LORD is my [MASK]; I shall not want.")
//     print(one.text)                                             // the prompt with its blank filled
//     for r in glm.fill(["A [MASK] B", "C [MASK] D"]) { print(try r.get().text) }   // one batch
//     for try await event in glm.stream("In the beginning God created the [MASK].") { print(event) }
//     let scores = try glm.scoreChoices("The opposite of hot is [MASK].", choices: ["cold", "warm"])
//     print(scores.scores, scores.best)                          // one log-probability per choice, the argmax
//     let tuned = try glm.finetune(.copa, data: "COPA/")          // train.jsonl + val.jsonl; the best epoch is kept
//
// Everything here is a thin shell over the modules it re-exports (GLMGenerator, MultipleChoiceScorer,
// PretrainingSession, …), which stay available for finer control.
import Foundation

/// A loaded GLM model with its tokenizer, ready to fill blanks, score choices and be trained further.
///
/// Thread-safe: generation and scoring calls are serialised inside (the engine's buffers are not
/// reentrant); use one pipeline per thread for parallel work. Weights are pre-packed once for decoding.
public final class GLMPipeline: @unchecked Sendable {
    /// Blank filling (greedy, sampling, beam search) on a K/V cache, exactly as the original's
    /// `generate_samples.py`.
    public let generator: GLMGenerator
    /// The model (names equal to checkpoint keys).
    public var model: GLMModel { generator.model }
    /// The model's tokenizer (WordPiece, GPT-2/RoBERTa BPE or SentencePiece, with GLM's command tokens).
    public var tokenizer: any Tokenizer { generator.tokenizer }

    private let lock = NSLock()
    private var scorers: [MultipleChoiceKey: MultipleChoiceScorer] = [:]

    /// Wraps an existing generator (e.g. one built from a model trained in this process).
    public init(generator: GLMGenerator) {
        self.generator = generator
    }

    /// Loads a model in any layout a GLM user meets: a folder with `config.json` + safetensors (what
    /// `glm convert` writes), Hugging Face `pytorch_model.bin`, the original's training folders and
    /// model-parallel shards. `preset` names the published model (`glm-large`, `glm-10b`, …) when the
    /// folder has no `config.json`; `tokenizer` overrides the tokenizer preset the config names.
    /// `weights` is the storage of the pre-packed decoding weights (`.bfloat16` halves the bytes read, `.int8`
    /// quarters them).
    public static func load(_ path: String, preset: String? = nil, tokenizer: String? = nil,
                            weights: GEMMInputType = .float32) throws -> GLMPipeline {
        let options = ModelLoadOptions(preset: preset, tokenizer: tokenizer)
        return GLMPipeline(generator: try GLMGenerator.load(path, options: options, packedWeights: weights))
    }

    /// Loads the built-in default model (`Models/glm-kjv-small`, or `$GLM_DEFAULT_MODEL`).
    public static func loadDefault(weights: GEMMInputType = .float32) throws -> GLMPipeline {
        GLMPipeline(generator: try GLMGenerator.loadDefault(packedWeights: weights))
    }

    // MARK: - tokenize

    /// Token ids of `text`, as the original's `EncodeAsIds` (command tokens such as `[MASK]` split out first).
    public func tokenize(_ text: String) -> [Int] { tokenizer.encode(text) }

    /// Text of `ids`, as the original's `DecodeIds`.
    public func detokenize(_ ids: [Int]) -> String { tokenizer.decode(ids) }

    // MARK: - fill blanks

    /// Fills every `[MASK]`/`[sMASK]`/`[gMASK]` of `prompt` in order (later blanks see earlier answers).
    /// `options` picks greedy (default), sampling or beam search, lengths, seeds and n-gram blocking.
    public func fill(_ prompt: String, options: GenerationOptions = GenerationOptions()) throws -> GenerationResult {
        try generator.generate(prompt, options: options)
    }

    /// Fills many prompts as batches; a bad prompt fails alone and never stops the others.
    public func fill(_ prompts: [String], options: GenerationOptions = GenerationOptions()) -> [Result<GenerationResult, Error>] {
        generator.generate(prompts, options: options)
    }

    /// Streams the filling of one prompt: a `.token` event per generated token, `.blankFinished` per
    /// blank and `.finished` with the whole result. Stops early when the consumer stops iterating.
    public func stream(_ prompt: String, options: GenerationOptions = GenerationOptions()) -> AsyncThrowingStream<GenerationEvent, Error> {
        generator.stream(prompt, options: options)
    }

    // MARK: - score choices

    /// Scores each choice as the answer to the prompt's blank, as the original's zero-shot multiple choice
    /// (`GLMForMultiTokenCloze`): the summed log-probability of the choice's tokens at the `[MASK]` (one is
    /// appended when the prompt has none), divided by `length^lengthPenalty` when `lengthPenalty > 0`.
    /// `unidirectional` scores left to right after `[gMASK]` (a tokenizer that has it is needed).
    public func scoreChoices(_ prompt: String, choices: [String], lengthPenalty: Double = 0,
                             unidirectional: Bool = false, seqLength: Int? = nil) throws -> ChoiceScores {
        let scorer = try choiceScorer(MultipleChoiceKey(unidirectional: unidirectional,
                                                        seqLength: seqLength ?? model.config.maxSequenceLength))
        let scores = try lock.withLock {
            scorer.lengthPenalty = lengthPenalty
            return try scorer.score(prompt: prompt, choices: choices)
        }
        return ChoiceScores(scores: scores, best: MultipleChoiceScorer.argmax(scores))
    }

    private func choiceScorer(_ key: MultipleChoiceKey) throws -> MultipleChoiceScorer {
        try lock.withLock {
            if let s = scorers[key] { return s }
            let encoder = try MultipleChoiceEncoder(tokenizer: tokenizer, seqLength: key.seqLength,
                                                    unidirectional: key.unidirectional)
            let s = try MultipleChoiceScorer(model: model, encoder: encoder)
            scorers[key] = s
            return s
        }
    }

    // MARK: - train

    /// Runs (or resumes, with `options.resume`) blank-infilling pre-training as `glm pretrain` does:
    /// a new model or `options.load`, prepared token data (`glm data prepare`), AdamW with the original's
    /// defaults, atomic checkpoints in `options.save`. `message` gets one-line notes and progress.
    public static func pretrain(_ options: PretrainingOptions,
                                message: @escaping (String) -> Void = { _ in }) throws -> RunSummary {
        let session = try PretrainingSession(options: options, message: message)
        let log = try session.openLog()
        return try session.run(log: log, progress: nil, stop: nil)
    }
}

extension GLMPipeline {
    /// Finetunes this pipeline's model in place on a SuperGLUE task, as the original's
    /// `finetune_superglue.sh`: `data` holds `train.jsonl` and `val.jsonl` (the official layout), `settings`
    /// the task's PVP settings (default: GLM-Large's `config_tasks/task_<task>.sh`), `options` the training
    /// schedule (default: the original's epochs, batch size, lr 1e-5, warm-up 0.1, linear decay). Dev is
    /// evaluated every epoch and the best epoch's weights are kept. `epochs 0` only evaluates.
    /// (Seq2seq finetuning and P-tuning are not in the library yet.)
    public func finetune(_ task: SuperGLUETask, data: String, settings: SuperGLUESettings? = nil,
                         options: FinetuneOptions? = nil,
                         report: (FinetuneEvent) throws -> Void = { _ in }) throws -> FinetuneResult {
        let settings = settings ?? .glmLarge(task)
        let train = try SuperGLUEDataset(settings: settings, split: .train, folder: data, tokenizer: tokenizer)
        let dev = try SuperGLUEDataset(settings: settings, split: .dev, folder: data, tokenizer: tokenizer)
        let finetuner = try SuperGLUEFinetuner(model: model, train: train, dev: dev,
                                               options: options ?? .defaults(for: task))
        return try finetuner.run(report: report)
    }
}

/// The scores of `GLMPipeline.scoreChoices`: one summed log-probability per choice and the best index.
public struct ChoiceScores: Sendable, Equatable {
    public var scores: [Double]
    public var best: Int
}

private struct MultipleChoiceKey: Hashable {
    var unidirectional: Bool
    var seqLength: Int
}
