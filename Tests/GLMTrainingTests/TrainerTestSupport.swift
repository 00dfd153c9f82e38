// Shared helpers of the trainer tests: a tiny corpus over a small vocabulary, a tiny run spec, and a
// trainer built from them (no files, no tokenizer).
import GLMEngine
import Foundation
import GLM
import XCTest
@testable import GLMTraining

/// Documents over ids 11..<vocab with sentence ends (id 10, "."); the command ids are `testCommands`.
func tinyCorpus(documents: Int, lengths: ClosedRange<Int>, vocab: Int = 64, seed: UInt64 = 11) -> InMemoryDocuments {
    var rng = DataRandom(seed: seed)
    let docs: [[Int32]] = (0..<documents).map { _ in
        let n = lengths.lowerBound + rng.below(lengths.count)
        return (0..<n).map { i in i % 9 == 8 ? 10 : Int32(11 + rng.below(vocab - 11)) }
    }
    return InMemoryDocuments(documents: docs, tokenString: { $0 == 10 ? "." : "w\($0)" })
}

/// A tiny model and run: 2 layers, hidden 32, 4 heads, vocabulary 64, samples of 24 tokens.
func tinySpec(layers: Int = 2, hidden: Int = 32, heads: Int = 4, vocab: Int = 64, seqLength: Int = 24, batchSize: Int = 4,
              accum: Int = 1, dropout: Double = 0.1, lr: Double = 3e-3, steps: Int = 20, seed: UInt64 = 5,
              bertProb: Double = 0.5) -> TrainingSpec {
    var model = GLMConfig(numLayers: layers, hiddenSize: hidden, numAttentionHeads: heads, vocabSize: vocab, maxSequenceLength: seqLength)
    model.embeddingDropoutProb = dropout; model.outputDropoutProb = dropout; model.attentionDropoutProb = 0
    var data = BlankInfillingConfig()
    data.seqLength = seqLength
    data.bertProb = bertProb
    return TrainingSpec(model: model, data: data, seed: seed, batchSize: batchSize, gradientAccumulation: accum,
                        schedule: LearningRateSchedule(peak: lr, warmup: 0.1, decayIterations: steps, style: .cosine, decayRatio: 0.1),
                        optimizer: OptimizerSpec(), split: [1], trainData: DataIdentity(directory: "memory", fingerprint: "tiny", tokens: 0, documents: 0),
                        validData: nil, initialization: "random")
}

/// A trainer on `corpus` (all of it for training; `valid` for validation), fresh weights from the spec seed.
func tinyTrainer(_ spec: TrainingSpec, corpus: InMemoryDocuments, valid: InMemoryDocuments? = nil) throws -> Trainer {
    let batches = try TrainingBatches(store: corpus, trainDocuments: nil, validStore: valid, validDocuments: nil,
                                      commands: testCommands, spec: spec)
    return try Trainer(spec: spec, model: try GLMModel.random(config: spec.model, seed: spec.seed), batches: batches)
}

/// A trainer continuing from a checkpoint folder (as `glm pretrain --resume` does).
func resumedTrainer(folder: String, corpus: InMemoryDocuments, valid: InMemoryDocuments? = nil) throws -> Trainer {
    let ck = try CheckpointStore.load(folder: folder)
    let batches = try TrainingBatches(store: corpus, trainDocuments: nil, validStore: valid, validDocuments: nil,
                                      commands: testCommands, spec: ck.state.spec)
    let t = try Trainer(spec: ck.state.spec, model: ck.model, batches: batches)
    try t.restore(step: ck.state.step, optimizerStep: ck.state.optimizerStep, expAvg: ck.expAvg, expAvgSq: ck.expAvgSq)
    return t
}

/// A fresh temporary folder, removed at the end of the test.
func temporaryFolder(_ test: XCTestCase, _ name: String = #function) throws -> String {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("swiftglm-train-\(getpid())-\(name.filter { $0.isLetter || $0.isNumber })-\(UInt32.random(in: 0...UInt32.max))")
    try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: base) }
    return base.path
}

/// Every parameter's values, bit patterns, in order.
func parameterBits(_ model: GLMModel) -> [[UInt32]] {
    model.parameters.map { $0.value.toFloats().map(\.bitPattern) }
}

/// Runs `body` with the shared thread pool set to `n` threads.
func withThreads<T>(_ n: Int, _ body: () throws -> T) rethrows -> T {
    let saved = Runtime.threads
    Runtime.setThreads(n)
    defer { Runtime.setThreads(saved) }
    return try body()
}
