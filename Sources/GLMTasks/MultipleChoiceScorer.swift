import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTokenizers

/// Zero-shot multiple-choice scoring as the original's `model/downstream.py GLMForMultiTokenCloze`
/// (`take_softmax=True`): every choice is its own row; its score is the sum over the choice tokens of
/// the log-softmax (over the full padded vocabulary) at the target id. With `lengthPenalty > 0` the sum
/// is divided by (number of choice tokens)^lengthPenalty; a zero or NEGATIVE penalty leaves it alone,
/// as the original tests `length_penalty > 0.0`.
///
/// Rows of several items are packed together into forward passes of at most `batchSize` rows; rows
/// do not interact and padding is never attended by scored positions, so scores do not depend on the
/// packing (the original's chunks of 10 choices give the same values too).
///
/// Calls are serialised like `GLMGenerator`'s (the engine's buffers are not reentrant); set
/// `lengthPenalty` and `batchSize` before sharing a scorer between threads.
public final class MultipleChoiceScorer: @unchecked Sendable {
    public let model: GLMModel
    public let encoder: MultipleChoiceEncoder
    public var lengthPenalty: Double
    /// Choice rows per forward pass (memory bound only; numbers do not depend on it).
    public var batchSize: Int
    private let lock = NSLock()

    public var tokenizer: any Tokenizer { encoder.tokenizer }

    public init(model: GLMModel, encoder: MultipleChoiceEncoder, lengthPenalty: Double = 0, batchSize: Int = 16) throws {
        guard encoder.tokenizer.numTokens <= model.config.vocabSize else {
            throw MultipleChoiceError.tokenizer("\(encoder.tokenizer.name) has \(encoder.tokenizer.numTokens) tokens but the model only \(model.config.vocabSize) embedding rows")
        }
        guard batchSize >= 1 else { throw MultipleChoiceError.input("batch size must be ≥ 1") }
        self.model = model
        self.encoder = encoder
        self.lengthPenalty = lengthPenalty
        self.batchSize = batchSize
    }

    /// Loads a model in any layout (and the tokenizer it names) the way `glm generate` does.
    public static func load(_ path: String, options: ModelLoadOptions = ModelLoadOptions(), seqLength: Int = 512,
                            unidirectional: Bool = false, lengthPenalty: Double = 0, batchSize: Int = 16) throws -> MultipleChoiceScorer {
        let loaded = try GLMGenerator.load(path, options: options, packedWeights: nil)
        let encoder = try MultipleChoiceEncoder(tokenizer: loaded.tokenizer, seqLength: seqLength, unidirectional: unidirectional)
        return try MultipleChoiceScorer(model: loaded.model, encoder: encoder, lengthPenalty: lengthPenalty, batchSize: batchSize)
    }

    // MARK: - text and id entry points

    /// One score per choice (higher is more likely). `prompt` may hold a `[MASK]` where the answer goes.
    public func score(prompt: String, choices: [String]) throws -> [Double] {
        try score([encoder.encode(MultipleChoiceItem(inputs: prompt, choices: choices))])[0]
    }

    /// Index of the best choice (the first of equal scores, as `torch.argmax`).
    public func best(prompt: String, choices: [String]) throws -> Int {
        Self.argmax(try score(prompt: prompt, choices: choices))
    }

    public func score(inputIds: [Int], choiceIds: [[Int]]) throws -> [Double] {
        try score([encoder.encode(inputIds: inputIds, choiceIds: choiceIds)])[0]
    }

    public static func argmax(_ scores: [Double]) -> Int {
        var best = 0
        for i in scores.indices where scores[i] > scores[best] { best = i }
        return best
    }

    // MARK: - batched scoring

    /// Scores of every choice of every sample, packing rows of consecutive samples into passes.
    public func score(_ samples: [MultipleChoiceSample]) throws -> [[Double]] {
        lock.lock(); defer { lock.unlock() }
        var rows: [(sample: Int, choice: Int)] = []
        for (i, s) in samples.enumerated() { for c in s.ids.indices { rows.append((i, c)) } }
        var out = samples.map { [Double](repeating: 0, count: $0.ids.count) }
        var start = 0
        while start < rows.count {
            let chunk = Array(rows[start..<min(rows.count, start + batchSize)])
            start += chunk.count
            let sums = try scoreRows(chunk.map { (samples[$0.sample], $0.choice) })
            for (r, s) in zip(chunk, sums) { out[r.sample][r.choice] = s }
        }
        return out
    }

    /// One forward pass (the cloze scoring core shared with `ClozeScorer`), then the log-softmax at the
    /// scored positions only (computed in Double; the original's float32 differs by ~1e-6).
    func scoreRows(_ rows: [(MultipleChoiceSample, Int)]) throws -> [Double] {
        var inputs: [ClozeForwardRow] = [], targets: [[Int]] = []
        for (sample, c) in rows {
            let picks = sample.logitMasks[c].indices.filter { sample.logitMasks[c][$0] != 0 }
            inputs.append(ClozeForwardRow(ids: sample.ids[c], positions: sample.positions[c][0], blockPositions: sample.positions[c][1],
                                          sep: sample.seps[c], picks: picks))
            targets.append(picks.map { sample.targets[c][$0] })
        }
        let logits = try ClozeForward.pickedLogits(model: model, rows: inputs, tape: Tape.inference()).value.toFloats()
        let v = model.config.vocabSize
        var sums = [Double](repeating: 0, count: rows.count)
        var k = 0
        logits.withUnsafeBufferPointer { all in
            for (r, rowTargets) in targets.enumerated() {
                for target in rowTargets {
                    sums[r] += ClozeForward.logSoftmax(UnsafeBufferPointer(rebasing: all[(k * v)..<((k + 1) * v)]), at: target)
                    k += 1
                }
                if lengthPenalty > 0 { sums[r] /= pow(Double(rowTargets.count), lengthPenalty) }
            }
        }
        return sums
    }
}
