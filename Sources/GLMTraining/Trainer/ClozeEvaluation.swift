// Single-token blank filling, measured: mask one word-piece of a sentence and ask the model for it.
import GLMEngine
import Foundation
import GLM
import GLMTokenizers

/// One test item: a sentence with one token replaced by [MASK].
public struct ClozeItem: Sendable, Equatable {
    /// [ENC] + sentence ids (one replaced by [MASK]) + eos: the original's generation prompt layout.
    public let context: [Int32]
    public let maskPosition: Int
    public let target: Int32
    public let text: String
}

public struct ClozeReport: Sendable {
    public var total = 0
    public var correct = 0
    /// The constant predictor: the most frequent eligible token of the TRAINING data.
    public var baselineToken: Int32 = 0
    public var baselineCorrect = 0
    /// The best constant predictor in hindsight: the most frequent target of the test items themselves.
    public var oracleToken: Int32 = 0
    public var oracleCorrect = 0
    public var accuracy: Double { total > 0 ? Double(correct) / Double(total) : 0 }
    public var baselineAccuracy: Double { total > 0 ? Double(baselineCorrect) / Double(total) : 0 }
    public var oracleAccuracy: Double { total > 0 ? Double(oracleCorrect) / Double(total) : 0 }
    /// (item, predicted id) for every item, in item order.
    public var predictions: [(ClozeItem, Int32)] = []
}

/// Greedy single-token blank filling with the blank-infilling layout: part A = [ENC] text-with-[MASK]
/// eos, part B = [sop] at the mask's position (block position 1); the answer is the argmax of the
/// logits at [sop] over the whole vocabulary — the first token `glm generate` would produce.
public struct ClozeEvaluator {
    public let model: GLMModel
    public let tokenizer: any Tokenizer
    public let enc: Int32, mask: Int32, sop: Int32, eos: Int32

    public init(model: GLMModel, tokenizer: any Tokenizer) throws {
        func id(_ name: String) throws -> Int32 {
            guard let v = tokenizer.commandToken(named: name) else {
                throw TrainingError.invalidOption("tokenizer \(tokenizer.name) has no \(name) token")
            }
            return Int32(v)
        }
        self.model = model
        self.tokenizer = tokenizer
        enc = try id("ENC"); mask = try id("MASK"); sop = try id("sop"); eos = try id("eos")
    }

    /// Whether a token may be the blank: a text token with at least one letter (no punctuation, digits
    /// or command tokens), so the score measures words, not commas.
    public static func isEligible(_ id: Int32, tokenizer: any Tokenizer) -> Bool {
        guard Int(id) < tokenizer.numTextTokens, let s = tokenizer.token(for: Int(id)), !s.hasPrefix("[") else { return false }
        return s.unicodeScalars.contains { ("a"..."z").contains($0) || ("A"..."Z").contains($0) }
    }

    /// Up to `count` items from `lines` (one sentence per line), each masking one eligible token chosen
    /// with a generator seeded by `seed`. Lines are taken in a seeded random order; lines without an
    /// eligible token, or longer than `maxTokens`, are skipped.
    public func makeItems(lines: [String], count: Int, seed: UInt64, maxTokens: Int = 200) -> [ClozeItem] {
        var rng = DataRandom(seed: seed)
        var order = Array(lines.indices)
        rng.shuffle(&order)
        var items: [ClozeItem] = []
        for i in order where items.count < count {
            let text = lines[i].trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else { continue }
            let ids = tokenizer.encode(text).map { Int32($0) }
            let eligible = ids.indices.filter { Self.isEligible(ids[$0], tokenizer: tokenizer) }
            guard !eligible.isEmpty, ids.count + 3 <= min(maxTokens, model.config.maxSequenceLength) else { continue }
            let j = eligible[rng.below(eligible.count)]
            var masked = ids
            masked[j] = mask
            items.append(ClozeItem(context: [enc] + masked + [eos], maskPosition: j + 1, target: ids[j], text: text))
        }
        return items
    }

    /// The [MASK] item of a prompt written with one "[MASK]" (e.g. "In the beginning God created the [MASK] and the earth.").
    public func item(prompt: String) throws -> ClozeItem {
        let e = tokenizer.encodeGenerationPrompt(prompt)
        let positions = e.contextIds.indices.filter { e.contextIds[$0] == Int(mask) }
        guard positions.count == 1 else {
            throw TrainingError.invalidOption("the prompt \"\(prompt)\" must contain exactly one [MASK] (found \(positions.count))")
        }
        return ClozeItem(context: e.contextIds.map { Int32($0) }, maskPosition: positions[0], target: -1, text: prompt)
    }

    /// Logits [n, V] at the [sop] of each item (batched forward passes of `batchSize` items).
    public func logits(_ items: [ClozeItem], batchSize: Int = 16) throws -> [[Float]] {
        var out: [[Float]] = []
        var start = 0
        while start < items.count {
            let chunk = Array(items[start..<min(items.count, start + batchSize)])
            start += chunk.count
            let b = chunk.count, s = chunk.map(\.context.count).max()! + 1
            var ids = [Int32](repeating: 0, count: b * s), pos = [Int32](repeating: 0, count: b * 2 * s)
            var rows: [Int32] = []
            for (r, item) in chunk.enumerated() {
                let c = item.context.count
                for (i, t) in item.context.enumerated() { ids[r * s + i] = t; pos[r * 2 * s + i] = Int32(i) }
                ids[r * s + c] = sop
                pos[r * 2 * s + c] = Int32(item.maskPosition)
                pos[r * 2 * s + s + c] = 1
                rows.append(Int32(r * s + c))
            }
            let tape = Tape.inference()
            let o = try model.forward(ids: try Tensor(shape: [b, s], ints: ids), positionIds: try Tensor(shape: [b, 2, s], ints: pos),
                                      mask: .sep(chunk.map(\.context.count)), logits: .none, tape: tape)
            let flat = try tape.reshape(o.hidden, [b * s, model.config.hiddenSize])
            let picked = try tape.embedding(try Tensor(shape: [b], ints: rows), table: flat)
            let l = try tape.linear(picked, weight: model.word_embeddings.weight).value.toFloats()
            let v = model.config.vocabSize
            for r in 0..<b { out.append(Array(l[(r * v)..<((r + 1) * v)])) }
        }
        return out
    }

    /// The `k` most likely tokens at the blank with their probabilities.
    public func top(_ item: ClozeItem, k: Int = 5) throws -> [(id: Int32, probability: Double)] {
        let l = try logits([item])[0]
        let m = Double(l.max()!)
        let z = l.reduce(0.0) { $0 + exp(Double($1) - m) }
        return l.indices.sorted { l[$0] > l[$1] }.prefix(k).map { (Int32($0), exp(Double(l[$0]) - m) / z) }
    }

    /// Exact-match accuracy of the argmax, beside the two constant predictors.
    public func evaluate(_ items: [ClozeItem], baselineToken: Int32) throws -> ClozeReport {
        var report = ClozeReport()
        report.baselineToken = baselineToken
        let counts = items.reduce(into: [Int32: Int]()) { $0[$1.target, default: 0] += 1 }
        report.oracleToken = counts.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key ?? 0
        for (item, l) in zip(items, try logits(items)) {
            var best = 0
            for i in 1..<l.count where l[i] > l[best] { best = i }
            let predicted = Int32(best)
            report.total += 1
            if predicted == item.target { report.correct += 1 }
            if item.target == baselineToken { report.baselineCorrect += 1 }
            if item.target == report.oracleToken { report.oracleCorrect += 1 }
            report.predictions.append((item, predicted))
        }
        return report
    }

    /// The most frequent eligible token of a dataset (the constant predictor's answer).
    public static func mostFrequentEligibleToken(in store: any DocumentStore, tokenizer: any Tokenizer) -> Int32 {
        var counts = [Int](repeating: 0, count: tokenizer.numTokens)
        for d in 0..<store.documentCount {
            for t in store.documentTokens(d) where Int(t) < counts.count { counts[Int(t)] += 1 }
        }
        var best: Int32 = 0, bestCount = -1
        for (i, c) in counts.enumerated() where c > bestCount && isEligible(Int32(i), tokenizer: tokenizer) {
            best = Int32(i); bestCount = c
        }
        return best
    }
}
