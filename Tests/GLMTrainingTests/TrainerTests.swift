import GLMEngine
import GLM
import XCTest
@testable import GLMTraining

/// The training loop: it learns, it is deterministic (resume, threads), and gradient accumulation and
/// loss-position logits compute the same loss and gradients as the plain way.
final class TrainerTests: XCTestCase {
    /// One 20-token document, a 2-layer model without dropout, GLM's document-level objective (the
    /// [MASK] + suffix layout of generation): the loss must fall below 0.1 within 200 steps — the model
    /// memorises the document. (The token-span objective also falls, but a 2-layer, 32-wide model needs
    /// far more steps to learn where spans end: ~0.7 after 300 steps, which is why it is not used here.)
    func testTinyModelOverfitsATinyCorpus() throws {
        let corpus = tinyCorpus(documents: 1, lengths: 20...20, seed: 3)
        var spec = tinySpec(layers: 2, hidden: 32, dropout: 0, lr: 1e-2, steps: 200, bertProb: 0)
        spec.data.gptInfillProb = 1
        let trainer = try tinyTrainer(spec, corpus: corpus)
        var losses: [Double] = []
        for _ in 0..<200 { losses.append(try trainer.trainStep().loss) }
        let last = losses.suffix(10).reduce(0, +) / 10
        print("[overfit] loss \(losses[0]) → mean of the last 10 steps \(last)")
        XCTAssertGreaterThan(losses[0], 3, "a fresh model should be near ln(64) = 4.16")
        XCTAssertLessThan(last, 0.1, "tiny model did not overfit the tiny corpus: \(losses.suffix(10))")
    }

    /// Train 10 steps straight vs. 5 steps, checkpoint, a NEW trainer resumed from disk, 5 more steps:
    /// every loss, learning rate and gradient norm of steps 6…10 and every final weight must be equal to
    /// the last bit. Dropout is on and 2 micro-batches are accumulated, so the dropout streams and the
    /// data position are both exercised. The interrupted run also uses another thread count.
    func testResumeIsBitIdenticalToAnUninterruptedRun() throws {
        let corpus = tinyCorpus(documents: 12, lengths: 10...60)
        let spec = tinySpec(accum: 2, dropout: 0.1, steps: 10)
        let straight = try withThreads(2) { () throws -> ([StepResult], [[UInt32]]) in
            let t = try tinyTrainer(spec, corpus: corpus)
            return (try (0..<10).map { _ in try t.trainStep() }, parameterBits(t.model))
        }
        let dir = try temporaryFolder(self)
        let store = CheckpointStore(directory: dir, keep: 2)
        try withThreads(1) {
            let t = try tinyTrainer(spec, corpus: corpus)
            let run = TrainingRun(trainer: t, options: RunOptions(steps: 10, saveInterval: 0), store: store,
                                  stop: StopSignal(signals: []))
            run.onStep = { if $0.step == 5 { run.stop?.request() } }
            let s = try run.run()
            XCTAssertEqual(s.stoppedBy, SIGTERM)
            XCTAssertEqual(s.finalStep, 5)
            XCTAssertEqual(s.results.map(\.loss), straight.0.prefix(5).map(\.loss))
        }
        let folder = try XCTUnwrap(store.latestFolder())
        XCTAssertTrue(folder.hasSuffix("step-00000005"))
        let resumed = try resumedTrainer(folder: folder, corpus: corpus)
        XCTAssertEqual(resumed.step, 5)
        let rest = try withThreads(1) { try (0..<5).map { _ in try resumed.trainStep() } }
        for (a, b) in zip(rest, straight.0.suffix(5)) {
            XCTAssertEqual(a.step, b.step)
            XCTAssertEqual(a.loss.bitPattern, b.loss.bitPattern, "step \(a.step): loss \(a.loss) vs \(b.loss)")
            XCTAssertEqual(a.learningRate, b.learningRate)
            XCTAssertEqual(a.gradNorm.bitPattern, b.gradNorm.bitPattern, "step \(a.step): grad norm")
        }
        XCTAssertEqual(parameterBits(resumed.model), straight.1, "final weights differ after resume")
        print("[resume] losses 6…10: \(rest.map(\.loss))")
    }

    /// The same run on 1 and on 2 threads, at shapes where the GEMMs and kernels do split work.
    func testSameSeedSameRunWhateverTheThreadCount() throws {
        let corpus = tinyCorpus(documents: 20, lengths: 40...200, vocab: 256)
        let spec = tinySpec(layers: 2, hidden: 96, heads: 4, vocab: 256, seqLength: 64, batchSize: 4, dropout: 0.1, steps: 2)
        func run(_ threads: Int) throws -> ([Double], [[UInt32]]) {
            try withThreads(threads) {
                let t = try tinyTrainer(spec, corpus: corpus)
                return (try (0..<2).map { _ in try t.trainStep().loss }, parameterBits(t.model))
            }
        }
        let one = try run(1), two = try run(2)
        XCTAssertEqual(one.0.map(\.bitPattern), two.0.map(\.bitPattern), "losses: 1 thread \(one.0), 2 threads \(two.0)")
        XCTAssertTrue(one.1 == two.1, "weights after 2 steps differ between 1 and 2 threads")
    }

    /// k = 3 micro-batches of 2 samples vs ONE batch of their 6 rows: same loss and gradients.
    /// Tolerance: loss 1e-6 relative; each gradient tensor max |diff| ≤ 1e-5 · max |g| (the batches are
    /// padded to different lengths, so GEMM shapes and summation orders differ).
    func testGradientAccumulationEqualsOneLargerBatch() throws {
        let corpus = tinyCorpus(documents: 10, lengths: 8...60)
        let spec = tinySpec(batchSize: 2, accum: 3, dropout: 0)
        let small = try tinyTrainer(spec, corpus: corpus)
        let blocks = try small.blockBatches(step: 1)
        XCTAssertEqual(blocks.count, 3)
        XCTAssertGreaterThan(Set(blocks.map(\.lossTokenCount)).count, 1, "micro-batches should differ in loss tokens for this test to mean something")
        small.optimizer.zeroGrad()
        let a = try small.accumulateGradients(try blocks.map(ModelBatch.init), step: 1)
        let gradsA = small.model.parameters.map { $0.gradient.toFloats() }

        var bigSpec = spec
        bigSpec.batchSize = 6; bigSpec.gradientAccumulation = 1
        let big = try tinyTrainer(bigSpec, corpus: corpus)
        let joined = BlockBatch(rows: blocks.flatMap(\.rows), mode: blocks[0].mode)
        big.optimizer.zeroGrad()
        let b = try big.accumulateGradients([try ModelBatch(joined)], step: 1)
        XCTAssertTrue(a.finite && b.finite)
        XCTAssertEqual(a.loss, b.loss, accuracy: 1e-6 * abs(b.loss))
        var worst = 0.0
        for (p, (ga, gb)) in zip(big.model.parameters, zip(gradsA, big.model.parameters.map { $0.gradient.toFloats() })) {
            let scale = Double(gb.map(abs).max() ?? 0)
            let d = Double(zip(ga, gb).map { abs($0 - $1) }.max() ?? 0)
            XCTAssertLessThanOrEqual(d, 1e-5 * scale + 1e-9, "\(p.name): max |diff| \(d), scale \(scale)")
            worst = max(worst, d / max(scale, 1e-30))
        }
        print("[accumulation] loss \(a.loss) vs \(b.loss); worst relative gradient difference \(worst)")
    }

    /// Logits only at the loss positions (what the trainer uses) vs logits everywhere then the masked mean.
    func testLossPositionLogitsEqualFullLogits() throws {
        let corpus = tinyCorpus(documents: 6, lengths: 10...50)
        let spec = tinySpec(dropout: 0)
        let t = try tinyTrainer(spec, corpus: corpus)
        let batch = try ModelBatch(try t.blockBatches(step: 1)[0])
        XCTAssertLessThan(batch.lossTokens, batch.batchSize * batch.length)
        func run(_ full: Bool) throws -> (Float, [[Float]]) {
            t.optimizer.zeroGrad()
            let tape = Tape(recording: true, training: false)
            let ce = full ? try t.model.blankInfillingLossFullLogits(batch, tape: tape) : try t.model.blankInfillingLoss(batch, tape: tape)
            try tape.backward(ce.loss)
            return (ce.loss.value.scalarValue, t.model.parameters.map { $0.gradient.toFloats() })
        }
        let sparse = try run(false), full = try run(true)
        XCTAssertEqual(sparse.0, full.0, accuracy: 1e-6 * abs(full.0))
        for (p, (a, b)) in zip(t.model.parameters, zip(sparse.1, full.1)) {
            let scale = b.map(abs).max() ?? 0
            XCTAssertLessThanOrEqual(zip(a, b).map { abs($0 - $1) }.max() ?? 0, 1e-5 * scale + 1e-9, p.name)
        }
    }

    /// The trainer's per-step learning rates are the schedule's, and validation runs on fixed batches.
    func testStepsFollowTheScheduleAndValidationIsRepeatable() throws {
        let corpus = tinyCorpus(documents: 8, lengths: 10...40)
        let valid = tinyCorpus(documents: 4, lengths: 10...40, seed: 99)
        let spec = tinySpec(steps: 6)
        let t = try tinyTrainer(spec, corpus: corpus, valid: valid)
        let v0 = try XCTUnwrap(t.validationLoss(iterations: 2))
        XCTAssertEqual(try t.validationLoss(iterations: 2), v0, "validation must not depend on when it runs")
        let results = try (0..<6).map { _ in try t.trainStep() }
        XCTAssertEqual(results.map(\.learningRate), (1...6).map { spec.schedule.rate(forStep: $0) })
        XCTAssertEqual(results[0].learningRate, 0, "the original's first update runs at lr(0) = 0 during warm-up")
        XCTAssertTrue(results.allSatisfy { !$0.skipped && $0.loss.isFinite && $0.gradNorm > 0 })
        let v1 = try XCTUnwrap(t.validationLoss(iterations: 2))
        XCTAssertNotEqual(v0, v1)
    }
}
