import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTokenizers

public enum ClozeScorerError: Error, CustomStringConvertible, Equatable {
    case input(String)
    public var description: String {
        switch self { case .input(let m): return "cloze scorer: \(m)" }
    }
}

/// The SuperGLUE cloze models of the original's `model/downstream.py` over encoded `ClozeSample`s:
///
/// * `.singleToken` (`GLMForSingleTokenCloze`): the logits of the `sop` position (index `sep` of the one
///   row) at the verbalizer ids, raw (`takeSoftmax == false`, as the original's finetuning without
///   `--adapet`) or log-softmax over the full padded vocabulary (`takeSoftmax`, with `--adapet`). The
///   logit mask is not read.
/// * `.multiToken` (`GLMForMultiTokenCloze`): every choice is its own row; its score is
///   Σ_t logit_mask[t]·log_softmax(logits[t])[target[t]] over the full padded vocabulary (the answer
///   tokens and the final `eop`), divided by (Σ logit_mask)^lengthPenalty when `lengthPenalty > 0` (the
///   original tests `> 0.0`; zero or negative leaves the sum).
///
/// Rows of all samples are packed into forward passes of at most `batchSize` rows. Rows do not interact
/// and scored positions never attend padding, so the numbers do not depend on the packing: the original's
/// chunks of `segment_length = 10` choices give the same values as one pass (the default packs 10 rows).
///
/// Inference calls are serialised (the engine's buffers are not reentrant); set the properties before
/// sharing a scorer between threads.
public final class ClozeScorer: @unchecked Sendable {
    public let model: GLMModel
    public var lengthPenalty: Double
    public var takeSoftmax: Bool
    /// Rows per inference forward pass (memory bound only; numbers do not depend on it).
    public var batchSize: Int
    /// Continuous prompts (P-tuning): encodes the prompt rows that replace the input embeddings at every
    /// row's `promptPositions`. Needed exactly when the samples were encoded with prompt tokens.
    public var promptEncoder: PromptEncoder?
    private let lock = NSLock()

    public init(model: GLMModel, lengthPenalty: Double = 0, takeSoftmax: Bool = false, batchSize: Int = 10) throws {
        guard batchSize >= 1 else { throw ClozeScorerError.input("batch size must be ≥ 1") }
        self.model = model
        self.lengthPenalty = lengthPenalty
        self.takeSoftmax = takeSoftmax
        self.batchSize = batchSize
    }

    /// Loads a model in any layout (and the tokenizer it names) the way `glm generate` does; the
    /// tokenizer is what the PVP encoders need to build samples for this scorer.
    public static func load(_ path: String, options: ModelLoadOptions = ModelLoadOptions(), lengthPenalty: Double = 0,
                            takeSoftmax: Bool = false, batchSize: Int = 10) throws -> (scorer: ClozeScorer, tokenizer: any Tokenizer) {
        let loaded = try GLMGenerator.load(path, options: options, packedWeights: nil)
        guard loaded.tokenizer.numTokens <= loaded.model.config.vocabSize else {
            throw ClozeScorerError.input("\(loaded.tokenizer.name) has \(loaded.tokenizer.numTokens) tokens but the model only \(loaded.model.config.vocabSize) embedding rows")
        }
        return (try ClozeScorer(model: loaded.model, lengthPenalty: lengthPenalty, takeSoftmax: takeSoftmax, batchSize: batchSize), loaded.tokenizer)
    }

    // MARK: - inference

    /// One score per choice of every sample (single-token: per verbalizer; multi-token: per row), in float64.
    public func scores(_ samples: [ClozeSample]) throws -> [[Double]] {
        lock.lock(); defer { lock.unlock() }
        let plans = try samples.enumerated().map { try plan($0.element, index: $0.offset) }
        var jobs: [(sample: Int, row: Int)] = []
        for (i, p) in plans.enumerated() { for r in p.rows.indices { jobs.append((i, r)) } }
        var out = plans.map { [Double](repeating: 0, count: $0.width) }
        var start = 0
        while start < jobs.count {
            let chunk = Array(jobs[start..<min(jobs.count, start + batchSize)])
            start += chunk.count
            let logits = try ClozeForward.pickedLogits(model: model, rows: chunk.map { plans[$0.sample].rows[$0.row] },
                                                       prompts: promptEncoder, tape: Tape.inference()).value
            // Per logits row, the vocabulary columns its score reads (single-token: the verbalizers; multi-token:
            // one row per target), in the order of the loop below.
            let columns = chunk.flatMap { i, r -> [[Int]] in plans[i].verbalizerIds.map { [$0] } ?? plans[i].targets[r].map { [$0] } }
            let read = try ClozeLogitsReader(logits, columns: columns, model: model)
            var k = 0
            for (i, r) in chunk {
                let p = plans[i]
                if p.verbalizerIds != nil {
                    out[i] = (0..<p.width).map { read.value(row: k, pick: $0, logSoftmax: takeSoftmax) }
                    k += 1
                } else {
                    var sum = 0.0
                    for weight in p.weights[r] {
                        sum += weight * read.value(row: k, pick: 0, logSoftmax: true)
                        k += 1
                    }
                    out[i][r] = sum / p.divisors[r]
                }
            }
        }
        return out
    }

    // MARK: - training (differentiable)

    /// The choice scores of a training batch as a differentiable [samples, width] variable, and the
    /// choice mask `my_collate` builds: a sample with fewer choices than the widest (or than `width`) is
    /// padded with copies of its choice 0 (mask 0). All rows run in ONE forward pass on `tape` (the
    /// original's training step); float32 like the original. Samples must all be of one kind (and
    /// single-token samples have one verbalizer count). Not serialised: the caller owns the tape.
    /// `minimumLength`: see `ClozeForward.pickedLogits` (data parallelism pads a rank's rows as the global batch's).
    public func scoreVariable(_ samples: [ClozeSample], width: Int? = nil, minimumLength: Int = 0,
                              tape: Tape) throws -> (scores: Variable, choiceMask: [[Float]]) {
        guard !samples.isEmpty else { throw ClozeScorerError.input("no samples") }
        let plans = try samples.enumerated().map { try plan($0.element, index: $0.offset) }
        let single = plans[0].verbalizerIds != nil
        guard plans.allSatisfy({ ($0.verbalizerIds != nil) == single }) else {
            throw ClozeScorerError.input("a batch mixes single-token and multi-token samples")
        }
        let w = max(width ?? 0, plans.map(\.width).max()!)
        let mask = plans.map { p in (0..<w).map { Float($0 < p.width ? 1 : 0) } }
        let logits = try ClozeForward.pickedLogits(model: model, rows: plans.flatMap(\.rows), prompts: promptEncoder,
                                                   minimumLength: minimumLength, tape: tape)
        var grid: [[(index: Int, weight: Double)]] = []
        if single {
            let k = plans[0].width
            guard plans.allSatisfy({ $0.width == k }) else { throw ClozeScorerError.input("single-token samples with different verbalizer counts") }
            let picked = try model.pickVocabularyColumns(logits, indices: plans.map { $0.verbalizerIds! }, logSoftmax: takeSoftmax, tape: tape)
            for i in plans.indices { for c in 0..<w { grid.append([(i * k + (c < k ? c : 0), 1)]) } }
            return (try tape.weightedGather(picked, terms: grid, shape: [plans.count, w]), mask)
        }
        let picked = try model.pickVocabularyColumns(logits, indices: plans.flatMap { $0.targets.joined().map { [$0] } }, logSoftmax: true, tape: tape)
        var k = 0
        for p in plans {
            var rowTerms: [[(index: Int, weight: Double)]] = []
            for r in p.rows.indices {
                rowTerms.append(p.weights[r].map { weight -> (index: Int, weight: Double) in defer { k += 1 }; return (index: k, weight: weight / p.divisors[r]) })
            }
            for c in 0..<w { grid.append(rowTerms[c < p.width ? c : 0]) }
        }
        return (try tape.weightedGather(picked, terms: grid, shape: [plans.count, w]), mask)
    }

    /// `finetune_forward_step`'s loss over a batch: the scores of `scoreVariable`, masked where choices
    /// are padding, against each sample's `label` (WSC train samples carry label 0, as the original forces).
    /// `width` and `minimumLength` (data parallelism): the global batch's `trainingShape`, so that a rank's
    /// share pads its choices and rows exactly as the whole batch does.
    public func trainingLoss(_ samples: [ClozeSample], function: ChoiceLossFunction, width: Int? = nil, minimumLength: Int = 0,
                             tape: Tape) throws -> Variable {
        let (scores, mask) = try scoreVariable(samples, width: width, minimumLength: minimumLength, tape: tape)
        return try tape.choiceLoss(scores, labels: samples.map(\.label), choiceMask: mask, function: function)
    }

    /// The shape `trainingLoss` gives a batch: forward rows per sample, the padded row length and the
    /// choice width (data parallelism: each rank pads its share to the global batch's).
    public func trainingShape(_ samples: [ClozeSample]) throws -> (rowsPerSample: [Int], length: Int, width: Int) {
        let plans = try samples.enumerated().map { try plan($0.element, index: $0.offset) }
        return (plans.map(\.rows.count), plans.flatMap(\.rows).map(\.length).max() ?? 0, plans.map(\.width).max() ?? 0)
    }

    // MARK: - sample checks

    /// What one sample needs from the forward pass.
    struct Plan {
        var rows: [ClozeForwardRow]
        var verbalizerIds: [Int]?
        /// Multi-token, per row: the target id and logit-mask weight of each picked position, and the divisor.
        var targets: [[Int]] = []
        var weights: [[Double]] = []
        var divisors: [Double] = []
        var width: Int { verbalizerIds?.count ?? rows.count }
    }

    func plan(_ sample: ClozeSample, index: Int) throws -> Plan {
        func fail(_ m: String) -> ClozeScorerError { .input("sample \(index) (\(sample.uid)): \(m)") }
        let v = model.config.vocabSize
        guard !sample.rows.isEmpty else { throw fail("no rows") }
        for (r, row) in sample.rows.enumerated() {
            let n = row.ids.count
            guard row.positions.count == n, row.blockPositions.count == n else { throw fail("row \(r): ids, positions and block positions differ in length") }
            guard (0..<n).contains(row.sep) else { throw fail("row \(r): sep \(row.sep) outside the row of \(n)") }
        }
        switch sample.kind {
        case .singleToken(let verbalizerIds):
            guard sample.rows.count == 1 else { throw fail("a single-token sample has one row, got \(sample.rows.count)") }
            guard !verbalizerIds.isEmpty, verbalizerIds.allSatisfy({ (0..<v).contains($0) }) else {
                throw fail("verbalizer ids \(verbalizerIds) must be non-empty ids below \(v)")
            }
            let row = sample.rows[0]
            return Plan(rows: [ClozeForwardRow(ids: row.ids, positions: row.positions, blockPositions: row.blockPositions,
                                               sep: row.sep, picks: [row.sep], promptPositions: row.promptPositions)],
                        verbalizerIds: verbalizerIds)
        case .multiToken:
            var p = Plan(rows: [], verbalizerIds: nil)
            for (r, row) in sample.rows.enumerated() {
                guard row.targets.count == row.ids.count, row.logitMask.count == row.ids.count else {
                    throw fail("row \(r): targets and logit mask must be as long as the ids")
                }
                let picks = row.logitMask.indices.filter { row.logitMask[$0] != 0 }
                guard !picks.isEmpty else { throw fail("row \(r): the logit mask selects nothing") }
                let targets = picks.map { row.targets[$0] }
                guard targets.allSatisfy({ (0..<v).contains($0) }) else { throw fail("row \(r): a target is outside the vocabulary of \(v)") }
                p.rows.append(ClozeForwardRow(ids: row.ids, positions: row.positions, blockPositions: row.blockPositions,
                                              sep: row.sep, picks: picks, promptPositions: row.promptPositions))
                p.targets.append(targets)
                p.weights.append(picks.map { Double(row.logitMask[$0]) })
                let total = Double(row.logitMask.reduce(0, +))
                p.divisors.append(lengthPenalty > 0 ? pow(total, lengthPenalty) : 1)
            }
            return p
        }
    }
}
