// `glm bench finetune`: the SuperGLUE cloze finetuning step (`SuperGLUEFinetuner.trainStep`) timed on a
// random GLM and random cloze samples, reported in `glm bench train`'s JSON schema (mode "finetune").
import Foundation
import GLM
import GLMEngine
import GLMTasks
import GLMTraining

/// Random GLM (RecipeWorkload: the original's init, no dropout) and ONE batch of random cloze samples,
/// reused every step. A step is `SuperGLUEFinetuner.trainStep` with one micro-batch: `TrainingStep` with
/// the finetuner's optimizer settings (AdamW 0.9/0.98, eps 1e-6, weight decay 0.1, clip 1), zero grads,
/// `ClozeScorer.trainingLoss` (cross-entropy over the choices) accumulated with seed 1, clip + AdamW at
/// lr 1e-4 (the rate of `glm bench train`; the rate does not change the work).
public enum FinetuneBenchmark {
    public static let learningRate = 1e-4

    public static func run(_ o: ModelBenchmarkOptions, progress: ((String) -> Void)? = nil) throws -> ModelBenchmarkResult {
        var o = o
        o.mode = .finetune
        try o.validate()
        Runtime.setThreads(o.threads)
        let model = try RecipeWorkload.model(layers: o.layers, hidden: o.hidden, heads: o.heads, vocab: o.vocab,
                                             seqLength: o.seqLength, seed: o.seed)
        let samples = Self.samples(o)
        let scorer = try ClozeScorer(model: model)
        let stepper = TrainingStep(model: model, settings: OptimizerSpec(), learningRate: learningRate)
        stepper.compute = o.compute
        var times: [Double] = []
        var losses: [Double] = []
        for i in 0..<(o.warmup + o.steps) {
            let start = DispatchTime.now().uptimeNanoseconds
            // SuperGLUEFinetuner.trainStep, one micro-batch (share 1), no dropout.
            stepper.zeroGradients()
            let value = try stepper.accumulate(on: Tape(recording: true, training: false), seed: 1, scalarLoss: {
                try scorer.trainingLoss(samples, function: .crossEntropy, tape: $0)
            })
            if value != nil { _ = stepper.update(learningRate: learningRate) }
            let ms = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
            losses.append(value.map(Double.init) ?? .nan)
            if i >= o.warmup { times.append(ms) }
            progress?(String(format: "%@ step %d/%d: %.1f ms", i < o.warmup ? "warm-up" : "timed", i + 1, o.warmup + o.steps, ms))
        }
        return ModelBenchmarkResult(options: o, stepMs: times, peakRSSMB: ModelBenchmark.peakResidentMegabytes(),
                                    lossFirst: losses.first, lossLast: losses.last)
    }

    /// `batchSize` random cloze samples as the PVP encoders lay them out, every row exactly `seqLength` long:
    /// multi-token: `choices` rows of `[part A (sep = S − answerLength tokens)] sop answer[:-1]`, the answer
    /// tokens at the mask position (S/4) with block positions 1…n, targets answer + eop under a logit mask;
    /// single-token: one row of part A (S − 1) and `sop`, scored at `choices` random verbalizer ids.
    /// Ids are uniform in [0, V) from `seed`; labels are uniform over the choices.
    public static func samples(_ o: ModelBenchmarkOptions) -> [ClozeSample] {
        var rng = SplitMix(state: o.seed &+ 0x9E37_79B9_7F4A_7C15)
        func id() -> Int { rng.below(o.vocab) }
        let s = o.seqLength
        let n = o.singleToken ? 1 : o.answerLength
        let sep = s - n
        let maskPosition = sep / 4
        func row(answer: Bool) -> ClozeSample.Row {
            var r = ClozeSample.Row(ids: (0..<s).map { _ in id() }, positions: (0..<s).map { $0 < sep ? $0 : maskPosition },
                                    blockPositions: (0..<s).map { $0 < sep ? 0 : $0 - sep + 1 }, sep: sep)
            if answer {
                // targets[t] = the token after t in the answer region (the last one stands for eop).
                r.targets = (0..<s).map { $0 < sep ? 0 : ($0 + 1 < s ? r.ids[$0 + 1] : id()) }
                r.logitMask = (0..<s).map { $0 < sep ? 0 : 1 }
            }
            return r
        }
        return (0..<o.batchSize).map { b in
            if o.singleToken {
                var verbalizers: [Int] = []
                while verbalizers.count < o.choices { let v = id(); if !verbalizers.contains(v) { verbalizers.append(v) } }
                return ClozeSample(kind: .singleToken(verbalizerIds: verbalizers), rows: [row(answer: false)],
                                   label: rng.below(o.choices), uid: "bench-\(b)")
            }
            return ClozeSample(kind: .multiToken, rows: (0..<o.choices).map { _ in row(answer: true) },
                               label: rng.below(o.choices), uid: "bench-\(b)")
        }
    }
}

/// SplitMix64: the benchmark's own seeded stream for sample ids.
private struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}
