import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTokenizers

/// What the model gives one sample at its loss positions.
public struct LanguageModelScore: Sendable, Equatable {
    /// Indices where the sample's loss mask is set.
    public var lossPositions: [Int]
    public var targets: [Int]
    /// log-softmax over the full (padded) vocabulary at the target id.
    public var logProbs: [Double]
    /// Argmax over the full vocabulary (the first of equal logits).
    public var argmax: [Int]

    /// The original's per-sample loss: the sum of `-logProbs` (cross entropy times the loss mask).
    public var lossSum: Double { -logProbs.reduce(0, +) }
    public var numLossTokens: Int { lossPositions.count }
    /// The original's `classify` metric: every argmax at a loss position equals its target.
    public var allCorrect: Bool { argmax == targets }
}

/// Zero-shot language-model scoring as the original's `tasks/language_model/finetune.py lm_forward_step`:
/// a plain `GLMModel` forward, `mpu.vocab_parallel_cross_entropy` (log-softmax over the full padded
/// vocabulary) at the loss positions, and `argmax` for the `accuracy` metric.
///
/// Samples are packed into passes of at most `batchSize` rows trimmed to the longest real length, and
/// the vocabulary projection is done only for loss positions (in chunks, to bound memory for long windows);
/// log-softmax is computed in Double. Rows do not interact and padding is never attended by scored
/// positions, so numbers do not depend on `batchSize`.
///
/// Calls are serialised (the engine's buffers are not reentrant).
public final class LanguageModelEvaluator: @unchecked Sendable {
    public let model: GLMModel
    /// Rows per forward pass (memory bound only).
    public var batchSize: Int
    /// Loss positions per vocabulary projection (memory bound only).
    public var projectionRows = 512
    private let lock = NSLock()

    public init(model: GLMModel, batchSize: Int = 16) throws {
        guard batchSize >= 1 else { throw LanguageModelError.input("batch size must be ≥ 1") }
        self.model = model
        self.batchSize = batchSize
    }

    /// Loads a model in any layout (and the tokenizer it names) the way `glm generate` does.
    public static func load(_ path: String, options: ModelLoadOptions = ModelLoadOptions(), batchSize: Int = 16) throws
        -> (evaluator: LanguageModelEvaluator, tokenizer: any Tokenizer) {
        let loaded = try GLMGenerator.load(path, options: options, packedWeights: nil)
        guard loaded.tokenizer.numTokens <= loaded.model.config.vocabSize else {
            throw LanguageModelError.tokenizer("\(loaded.tokenizer.name) has \(loaded.tokenizer.numTokens) tokens but the model only \(loaded.model.config.vocabSize) embedding rows")
        }
        return (try LanguageModelEvaluator(model: loaded.model, batchSize: batchSize), loaded.tokenizer)
    }

    public func score(_ samples: [LanguageModelSample]) throws -> [LanguageModelScore] {
        lock.lock(); defer { lock.unlock() }
        var out: [LanguageModelScore] = []
        out.reserveCapacity(samples.count)
        var start = 0
        while start < samples.count {
            let chunk = Array(samples[start..<min(samples.count, start + batchSize)])
            start += chunk.count
            out += try scoreRows(chunk)
        }
        return out
    }

    func scoreRows(_ rows: [LanguageModelSample]) throws -> [LanguageModelScore] {
        let b = rows.count, s = rows.map(\.length).max()!
        let limit = model.config.positionTableRows
        var ids = [Int32](repeating: 0, count: b * s), pos = [Int32](repeating: 0, count: b * 2 * s)
        var picked: [Int32] = []
        var scores: [LanguageModelScore] = []
        for (r, sample) in rows.enumerated() {
            for t in 0..<s {
                ids[r * s + t] = Int32(sample.ids[t])
                pos[r * 2 * s + t] = Int32(sample.positions[0][t])
                pos[r * 2 * s + s + t] = Int32(sample.positions[1][t])
            }
            if let p = sample.positions.joined().max(), p >= limit {
                throw LanguageModelError.input("position id \(p) is beyond the model's \(limit) position embeddings (use a smaller --seq-length)")
            }
            let lp = sample.lossPositions
            scores.append(LanguageModelScore(lossPositions: lp, targets: lp.map { sample.targets[$0] }, logProbs: [], argmax: []))
            picked += lp.map { Int32(r * s + $0) }
        }
        let tape = Tape.inference()
        let o = try model.forward(ids: try Tensor(shape: [b, s], ints: ids), positionIds: try Tensor(shape: [b, 2, s], ints: pos),
                                  mask: .sep(rows.map(\.sep)), logits: .none, tape: tape)
        let flat = try tape.reshape(o.hidden, [b * s, model.config.hiddenSize])
        let v = model.config.vocabSize
        var logProbs: [Double] = [], argmax: [Int] = []
        let targets = scores.flatMap(\.targets)
        var from = 0
        while from < picked.count {
            let to = min(picked.count, from + projectionRows)
            let hidden = try tape.embedding(try Tensor(shape: [to - from], ints: Array(picked[from..<to])), table: flat)
            let logits = try tape.linear(hidden, weight: model.word_embeddings.weight).value.toFloats()
            for k in 0..<(to - from) {
                let row = logits[(k * v)..<((k + 1) * v)]
                let (lp, am) = Self.logSoftmaxAndArgmax(row, at: targets[from + k])
                logProbs.append(lp); argmax.append(am)
            }
            from = to
        }
        var k = 0
        for r in scores.indices {
            let n = scores[r].lossPositions.count
            scores[r].logProbs = Array(logProbs[k..<(k + n)])
            scores[r].argmax = Array(argmax[k..<(k + n)])
            k += n
        }
        return scores
    }

    static func logSoftmaxAndArgmax(_ row: ArraySlice<Float>, at target: Int) -> (Double, Int) {
        var best = row.startIndex
        for i in row.indices where row[i] > row[best] { best = i }
        let m = Double(row[best])
        var z = 0.0
        for x in row { z += exp(Double(x) - m) }
        return (Double(row[row.startIndex + target]) - m - log(z), best - row.startIndex)
    }
}
