import GLMEngine
import Foundation
import GLMSupport

/// The per-step arithmetic on one row of logits: argmax, the original's `top_k_logits`, log-softmax,
/// the seq2seq evaluator's logits processors (min length, no repeated n-grams), multinomial draws.
/// Everything works on plain Float buffers so greedy decoding never copies the vocabulary row.
public enum LogitsProcessing {
    /// Index of the largest value among the first `count` (the first one on ties; NaN never wins).
    public static func argmax(_ p: UnsafePointer<Float>, count: Int) -> Int {
        var best = -Float.infinity, index = 0, found = false
        for i in 0..<count where p[i] > best || (!found && !p[i].isNaN) {
            best = p[i]; index = i; found = true
        }
        return index
    }

    /// The original's `top_k_logits` on one row, in place: with top_k > 0 every logit below the k-th
    /// largest becomes −∞ (ties with the k-th survive); with top_p > 0 the logits are sorted in
    /// descending order and every one after the first whose cumulative softmax probability exceeds top_p
    /// becomes −∞ (the one crossing the threshold is kept).
    static func topKLogits(_ logits: inout [Float], topK: Int, topP: Float) {
        if topK > 0 && topK < logits.count {
            let kth = kthLargest(logits, topK)
            for i in logits.indices where logits[i] < kth { logits[i] = -.infinity }
        }
        if topP > 0 {
            let order = logits.indices.sorted { logits[$0] > logits[$1] }
            let maxLogit = Double(logits[order[0]])
            var total = 0.0
            for i in order { total += Foundation.exp(Double(logits[i]) - maxLogit) }
            var cumulative = 0.0
            var removeFrom = order.count
            for (rank, i) in order.enumerated() {
                cumulative += Foundation.exp(Double(logits[i]) - maxLogit) / total
                if cumulative > Double(topP) { removeFrom = rank + 1; break }
            }
            if removeFrom < order.count { for i in order[removeFrom...] { logits[i] = -.infinity } }
        }
    }

    /// The k-th largest value (k ≥ 1) by a size-k min-heap: O(V log k).
    static func kthLargest(_ values: [Float], _ k: Int) -> Float {
        var heap = MinHeap<Float>(minimumCapacity: k)
        for v in values {
            if heap.count < k {
                heap.push(v)
            } else if v > heap.peek()! {
                heap.replaceTop(with: v)
            }
        }
        return heap.peek()!
    }

    /// log_softmax of one row exactly as PyTorch's float32 CPU kernel computes it (the original's beam
    /// scores are sums of these): (x − max) − log(Σ exp(x − max)) where the sum is accumulated in FLOAT32
    /// in 8 lanes (lane = index mod 8, AVX2 vectors; a tail shorter than 8 is folded into the first lanes)
    /// and the lanes are reduced as ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)).
    ///
    /// Why not the exact sum: over a 30k vocabulary, float32 accumulation drops the mass of the many
    /// tiny probabilities, so torch's log-probs sit up to ~1e-4 above the exact ones on a trained model;
    /// beam scores add 8 of them. With this summation the fixtures' scores are reproduced to ~1e-6
    /// (see BeamFixtureTests), with the exact sum only to ~4e-4.
    static func logSoftmax(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<Float>) {
        var m = -Float.infinity
        for i in 0..<count where x[i] > m { m = x[i] }
        var lanes = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
        let full = count / 8 * 8
        withUnsafeMutableBytes(of: &lanes) { raw in
            let acc = raw.baseAddress!.assumingMemoryBound(to: Float.self)
            if count < 8 {
                for l in 0..<count { acc[l] = Foundation.expf(x[l] - m) }
            } else {
                for l in 0..<8 { acc[l] = Foundation.expf(x[l] - m) }
                var i = 8
                while i < full {
                    for l in 0..<8 { acc[l] += Foundation.expf(x[i + l] - m) }
                    i += 8
                }
                for l in 0..<(count - full) { acc[l] += Foundation.expf(x[full + l] - m) }
            }
        }
        let (l0, l1, l2, l3, l4, l5, l6, l7) = lanes
        let sum = ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7))
        let logSum = Foundation.logf(sum)
        for i in 0..<count { out[i] = (x[i] - m) - logSum }
    }

    /// One multinomial draw from the softmax of `logits` (−∞ entries have probability 0).
    static func sample(logits: [Float], generator: inout SeededGenerator) -> Int {
        let m = logits.max() ?? 0
        var weights = [Double](repeating: 0, count: logits.count)
        var total = 0.0
        for i in logits.indices where logits[i] > -.infinity {
            weights[i] = Foundation.exp(Double(logits[i] - m)); total += weights[i]
        }
        return draw(weights: weights, total: total, generator: &generator)
    }

    /// An index drawn with probability weights[i] / total.
    static func draw(weights: [Double], total: Double, generator: inout SeededGenerator) -> Int {
        let u = generator.nextUniform() * total
        var acc = 0.0, last = 0
        for i in weights.indices where weights[i] > 0 {
            acc += weights[i]; last = i
            if u < acc { return i }
        }
        return last
    }

    /// `torch.multinomial(softmax(scores), n)` without replacement: n distinct indices, each drawn in turn
    /// with probability proportional to what is left.
    static func sampleWithoutReplacement(scores: [Float], count n: Int, generator: inout SeededGenerator) -> [Int] {
        let m = scores.max() ?? 0
        var weights = scores.map { $0 > -.infinity ? Foundation.exp(Double($0 - m)) : 0 }
        var total = weights.reduce(0, +)
        var picked: [Int] = []
        for _ in 0..<n {
            guard total > 0 else { break }
            let i = draw(weights: weights, total: total, generator: &generator)
            picked.append(i)
            total -= weights[i]; weights[i] = 0
        }
        return picked
    }

    /// The evaluator's NoRepeatNGramLogitsProcessor for one hypothesis: the ids that would repeat an
    /// n-gram already present in `generated` (the tokens of this blank so far).
    static func bannedByNGram(_ generated: [Int], size n: Int) -> [Int] {
        let len = generated.count
        guard n > 0, len + 1 >= n else { return [] }
        let prefix = Array(generated[(len + 1 - n)..<len])
        var banned: [Int] = []
        if len >= n {
            for start in 0...(len - n) where Array(generated[start..<(start + n - 1)]) == prefix {
                banned.append(generated[start + n - 1])
            }
        }
        return banned
    }

    /// Applies min length (end tokens −∞ while the blank is shorter) and no-repeat n-grams in place.
    static func applyConstraints(_ row: UnsafeMutablePointer<Float>, count: Int, generated: [Int],
                                 endTokens: [Int], minLength: Int, noRepeatNGram: Int) {
        if generated.count < minLength {
            for e in endTokens where e >= 0 && e < count { row[e] = -.infinity }
        }
        if noRepeatNGram > 0 {
            for b in bannedByNGram(generated, size: noRepeatNGram) where b >= 0 && b < count { row[b] = -.infinity }
        }
    }
}
