// Seq2seq fine-tuning as the original's finetune_glm.py + tasks/seq2seq/finetune.py run it
// (scripts/finetune_seq2seq.sh with config_tasks/seq_*.sh).
import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMTokenizers
import GLMTraining

/// How the epochs of a seq2seq run are compared.
public enum Seq2SeqEvalMetric: String, Sendable, CaseIterable {
    /// ROUGE-1 of beam-search predictions on dev (the original's `rouge_metric`, first key rouge-1).
    case rouge
    /// The training loss of the dev examples encoded as training samples (lower is better).
    case loss
}

extension FinetuneOptions {
    /// The TRAIN_ARGS of `config_tasks/seq_<task>.sh`: epochs (cnn_dm_original 10, cnn_dm 15, xsum 6,
    /// gigaword 10, customization 10, blank 5), lr (cnn_dm and gigaword 3e-5, others 1e-5), warm-up 0.06,
    /// weight decay 0.1, linear decay; batch size 4 (the seq2seq configs set no `BATCH_SINGLE`: arguments.py's
    /// default, and the per-GPU micro-batch of `config_blocklm_10B_cnndm.json`; the original multiplies it by its GPUs).
    public static func seq2seqDefaults(for kind: Seq2SeqTaskKind) -> FinetuneOptions {
        let epochs: Int
        switch kind {
        case .cnnDMOriginal, .gigaword, .customization: epochs = 10
        case .cnnDM: epochs = 15
        case .xsum: epochs = 6
        case .blank: epochs = 5
        }
        var o = FinetuneOptions(epochs: epochs, batchSize: 4)
        o.learningRate = kind == .cnnDM || kind == .gigaword ? 3e-5 : 1e-5
        o.warmup = 0.06
        o.weightDecay = 0.1
        return o
    }
}

/// Fine-tunes a GLM on a seq2seq task:
///
/// * the train split's samples (`Seq2SeqDataset`, encoded once in index order; the blank task's masks are
///   therefore drawn once, not per epoch) are visited each epoch in the seeded order of
///   `SuperGLUEFinetuner.order`, in steps of `batchSize · gradientAccumulation` samples;
/// * the loss is `seq2seq_forward_step`'s: Σ ce·loss_mask / Σ loss_mask over the step's target tokens
///   (micro-batches weighted by their share of the step's target tokens, so accumulation equals one large
///   batch), with `--label-smoothing` ε (every config: 0.1) mixing in ε·(−mean log-softmax) per token;
/// * a step is `TrainingStep`'s (AdamW 0.9/0.98/1e-6, weight decay except biases/LayerNorm, clipping),
///   at `LearningRateSchedule`'s rate over all steps;
/// * after every `evalEpochs`-th epoch and the last, dev is evaluated (`evalMetric`): ROUGE via `Seq2SeqEvaluator` (best = highest
///   rouge-1, the original's first metric) or the dev loss (best = lowest); the best epoch's weights are
///   kept and put back at the end. End-of-epoch checkpoint and resume as `SuperGLUEFinetuner`.
public final class Seq2SeqFinetuner {
    public let model: GLMModel
    public let tokenizer: any Tokenizer
    public let task: Seq2SeqTask
    public let options: FinetuneOptions
    public let evalMetric: Seq2SeqEvalMetric
    /// `--label-smoothing` of the training loss (the dev loss metric is the plain cross-entropy).
    public let labelSmoothing: Double
    public let trainSamples: [Seq2SeqSample]
    public let devExamples: [Seq2SeqExample]
    /// Forward/backward of the steps (set `stepper.compute` for bf16); the update is `updater`'s.
    public var stepper: TrainingStep { updater.stepper }
    /// The optimizer side of a step: one process, data parallel, ZeRO-1 (`FinetuneUpdater`).
    let updater: FinetuneUpdater
    public let schedule: LearningRateSchedule
    private let pad: Int
    private let devSamples: [Seq2SeqSample]
    /// Data parallelism as `SuperGLUEFinetuner.dataParallel` (batchSize per rank, rank 0 evaluates and writes).
    public let dataParallel: DataParallel?
    public var isRoot: Bool { (dataParallel?.rank ?? 0) == 0 }
    var globalBatchSize: Int { options.batchSize * (dataParallel?.size ?? 1) }

    /// `train` must be the train split; `dev` the dev examples (read with `Seq2SeqData.examples`).
    public init(model: GLMModel, tokenizer: any Tokenizer, train: Seq2SeqDataset, dev: [Seq2SeqExample],
                options: FinetuneOptions, evalMetric: Seq2SeqEvalMetric? = nil, labelSmoothing: Double = 0.1,
                dataParallel: DataParallel? = nil) throws {
        try options.validate()
        self.dataParallel = dataParallel
        guard (0..<1).contains(labelSmoothing) else { throw Seq2SeqError.configuration("label smoothing must be in [0, 1), got \(labelSmoothing)") }
        guard train.split == .train else { throw Seq2SeqError.configuration("the training dataset must be the train split") }
        guard options.epochs == 0 || train.count > 0 else { throw Seq2SeqError.configuration("the train split has no examples") }
        guard !dev.isEmpty else { throw Seq2SeqError.configuration("the dev split has no examples") }
        let metric = evalMetric ?? (train.task.kind == .blank ? .loss : .rouge)
        guard !(metric == .rouge && train.task.kind == .blank) else {
            throw Seq2SeqError.configuration("the blank task has no ROUGE evaluation: use the loss metric")
        }
        let limit = model.config.maxSequenceLength
        var data = train
        let samples = try data.samples()
        if let long = samples.first(where: { $0.positions[0].max() ?? 0 >= limit }) {
            throw Seq2SeqError.configuration("\(long.uid): positions reach \(long.positions[0].max()!), the model has \(limit): lower --src-seq-length")
        }
        self.model = model
        self.tokenizer = tokenizer
        task = train.task
        self.options = options
        self.evalMetric = metric
        self.labelSmoothing = labelSmoothing
        trainSamples = samples
        devExamples = dev
        pad = train.encoder.pad
        // Dev as training samples (the loss metric); the blank task masks them with its own seeded generator.
        if metric == .loss {
            var d = Seq2SeqDataset(encoder: train.encoder, split: train.task.kind == .blank ? .dev : .train, examples: dev)
            devSamples = try d.samples()
        } else {
            devSamples = []
        }
        var spec = OptimizerSpec()
        spec.weightDecay = options.weightDecay
        spec.clipGrad = options.clipGrad
        updater = FinetuneUpdater(model: model, parameters: model.parameters, spec: spec, learningRate: options.learningRate,
                                  dataParallel: dataParallel)
        schedule = LearningRateSchedule(peak: options.learningRate, warmup: options.warmup,
                                        decayIterations: max(1, options.epochs * SuperGLUEFinetuner.stepsPerEpoch(samples: samples.count, options: options,
                                                                                                                 ranks: dataParallel?.size ?? 1)),
                                        style: options.decayStyle, decayRatio: options.decayRatio)
    }

    public var samplesPerStep: Int { globalBatchSize * options.gradientAccumulation }
    public var stepsPerEpoch: Int {
        SuperGLUEFinetuner.stepsPerEpoch(samples: trainSamples.count, options: options, ranks: dataParallel?.size ?? 1)
    }
    public var totalSteps: Int { options.epochs * stepsPerEpoch }

    public var runIdentity: String {
        var o = options
        o.evalBatchSize = 16
        o.batchSize = globalBatchSize   // how the global batch is split over ranks does not change the numbers
        return "seq2seq \(task) metric \(evalMetric.rawValue) smoothing \(labelSmoothing) train \(trainSamples.count) dev \(devExamples.count) \(o)"
    }

    /// The training loss (label smoothing included, no dropout, no gradient) of one batch of training samples.
    public func loss(_ samples: [Seq2SeqSample]) throws -> Double {
        let tape = Tape(recording: false, training: false)
        return Double(try model.seq2seqLoss(Seq2SeqTrainingBatch(samples, pad: pad), labelSmoothing: labelSmoothing, tape: tape).value.scalarValue)
    }

    /// The dev metrics: rouge-1/2/l (fractions, see `Seq2SeqEvaluation.metrics`),
    /// or `loss` (the token-weighted mean over the dev samples, in batches of `evalBatchSize`).
    public func evaluate() throws -> (metrics: [(name: String, value: Double)], score: Double) {
        switch evalMetric {
        case .rouge:
            let metrics = try rouge()
            return (metrics, metrics.first?.value ?? .nan)
        case .loss:
            var sum = 0.0, tokens = 0
            for start in stride(from: 0, to: devSamples.count, by: options.evalBatchSize) {
                let batch = try Seq2SeqTrainingBatch(Array(devSamples[start..<min(devSamples.count, start + options.evalBatchSize)]), pad: pad)
                let l = try model.seq2seqLoss(batch, tape: Tape(recording: false, training: false))
                sum += Double(l.loss.value.scalarValue) * l.maskSum
                tokens += batch.lossTokens
            }
            let loss = sum / Double(max(tokens, 1))
            return ([(name: "loss", value: loss)], -loss)
        }
    }

    /// Dev ROUGE of beam-search predictions. A model split over a model-parallel group cannot decode (no
    /// K/V cache): the group gathers the whole model, its rank 0 decodes and scores, and the metrics are
    /// summed to the other ranks (collective; every rank of the group gets the same numbers).
    func rouge() throws -> [(name: String, value: Double)] {
        func score(_ whole: GLMModel) throws -> [(name: String, value: Double)] {
            let generator = try GLMGenerator(model: whole, tokenizer: tokenizer, packedWeights: nil)
            return try Seq2SeqEvaluator(generator: generator, task: task).evaluate(devExamples, split: .dev).metrics
        }
        guard let group = model.modelParallel else { return try score(model) }
        let weights = try model.fullStateDict()
        var values = [Double](repeating: 0, count: Seq2SeqEvaluation.rougeNames.count)
        if group.rank == 0 {
            let metrics = try score(try GLMModel(config: model.config, stateDict: Dictionary(uniqueKeysWithValues: weights)))
            guard metrics.map(\.name) == Seq2SeqEvaluation.rougeNames else { throw Seq2SeqError.configuration("no ROUGE result") }
            values = metrics.map(\.value)
        }
        try values.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
        return zip(Seq2SeqEvaluation.rougeNames, values).map { (name: $0, value: $1) }
    }

    /// Trains (or, with 0 epochs, evaluates only); the model ends with the best epoch's weights.
    /// `checkpoint`/`resume` as `SuperGLUEFinetuner.run`.
    public func run(checkpoint: String? = nil, resume: Bool = false, report: (FinetuneEvent) throws -> Void = { _ in },
                    stop: (() -> Bool)? = nil) throws -> Seq2SeqFinetuneResult {
        if options.epochs == 0 {
            guard isRoot else { return Seq2SeqFinetuneResult(task: task.kind, bestEpoch: 0, metrics: [], epochs: [], stepLosses: []) }
            let start = DispatchTime.now().uptimeNanoseconds
            let eval = try evaluate()
            let r = FinetuneEpochReport(epoch: 0, trainLoss: .nan, metrics: eval.metrics, isBest: true, seconds: SuperGLUEFinetuner.seconds(since: start))
            try report(.epoch(r))
            return Seq2SeqFinetuneResult(task: task.kind, bestEpoch: 0, metrics: eval.metrics, epochs: [r], stepLosses: [])
        }
        let loop = FinetuneEpochLoop(options: options, trainCount: trainSamples.count, samplesPerStep: samplesPerStep,
                                     totalSteps: totalSteps, runIdentity: runIdentity, model: model, updater: updater,
                                     kept: model.parameters, broadcast: model.parameters)
        let total = totalSteps
        let r = try loop.run(checkpoint: checkpoint, resume: resume, trainStep: { indices, step, epoch in
            try trainStep(indices.map { trainSamples[$0] }, step: step, epoch: epoch, totalSteps: total)
        }, evaluate: evaluate, report: report, stop: stop)
        return Seq2SeqFinetuneResult(task: task.kind, bestEpoch: r.bestEpoch, metrics: r.metrics, epochs: r.epochs, stepLosses: r.losses,
                                     stoppedAfterStep: r.stoppedAfterStep)
    }

    /// One optimizer step over `samples`: micro-batches of `batchSize`, each weighted by its share of the
    /// step's target tokens (the step's loss is the token mean over all of them).
    public func trainStep(_ samples: [Seq2SeqSample], step: Int, epoch: Int, totalSteps: Int) throws -> FinetuneStepReport {
        let start = DispatchTime.now().uptimeNanoseconds
        let lr = schedule.rate(forStep: step)
        var batches: [Seq2SeqTrainingBatch] = []
        // Data parallel: every rank builds the GLOBAL micro-batches (for the step's token count and padded
        // length) and trains its contiguous rows of each, padded as the whole and with its dropout rows placed.
        var shares: [(batch: Seq2SeqTrainingBatch?, rows: DropoutRows?)] = []   // nil: no rows on this rank
        for offset in stride(from: 0, to: samples.count, by: globalBatchSize) {
            let global = Array(samples[offset..<min(samples.count, offset + globalBatchSize)])
            let whole = try Seq2SeqTrainingBatch(global, pad: pad)
            batches.append(whole)
            guard let dp = dataParallel else { shares.append((whole, nil)); continue }
            let mine = dp.rows(globalRows: global.count, perRank: options.batchSize)
            shares.append(mine.isEmpty ? (nil, nil)
                          : (try Seq2SeqTrainingBatch(Array(global[mine]), pad: pad, minimumLength: whole.length),
                             DropoutRows(first: mine.lowerBound, local: mine.count, global: global.count)))
        }
        let tokens = batches.reduce(0) { $0 + $1.lossTokens }
        updater.zeroGradients()
        var loss = 0.0, finite = tokens > 0
        for (micro, (share, rows)) in shares.enumerated() where finite {
            guard let batch = share, batch.lossTokens > 0 else { continue }
            let share = Double(batch.lossTokens) / Double(tokens)
            let tape = Tape(recording: true, training: options.dropout,
                            dropoutSeed: Trainer.dropoutSeed(runSeed: options.seed, step: step, micro: micro))
            tape.dropoutRows = rows
            guard let value = try stepper.accumulate(on: tape, seed: Float(share), scalarLoss: {
                try model.seq2seqLoss(batch, labelSmoothing: labelSmoothing, tape: $0)
            }) else {
                finite = false; break
            }
            loss += Double(value) * share
        }
        let done = try updater.finishStep(loss: loss, finite: finite, learningRate: lr)   // summed over ranks first
        return FinetuneStepReport(step: step, epoch: epoch, totalSteps: totalSteps, loss: done.loss, learningRate: lr,
                                  gradNorm: done.gradNorm, samples: samples.count, seconds: SuperGLUEFinetuner.seconds(since: start),
                                  skipped: !done.updated)
    }
}

/// What a seq2seq run ended with; the model then holds the best epoch's weights.
public struct Seq2SeqFinetuneResult: Sendable {
    public var task: Seq2SeqTaskKind
    public var bestEpoch: Int
    public var metrics: [(name: String, value: Double)]
    public var epochs: [FinetuneEpochReport]
    public var stepLosses: [Double]
    /// As `FinetuneResult.stoppedAfterStep`.
    public var stoppedAfterStep: Int? = nil
}
