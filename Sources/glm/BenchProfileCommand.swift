import ArgumentParser
import GLMEngine
import Foundation
import GLM

/// `glm bench profile`: where the time of one training step goes (issue 5: "GEMM vs attention vs
/// elementwise vs optimizer vs overhead, as a table"), so the next performance step can aim.
///
/// Builds a random GLM and runs the training step of the benchmark recipe (bench/README.md) through the
/// Engine API: forward with full-vocabulary logits, cross-entropy with the loss mask on part B, backward,
/// clipGradNorm, AdamW. Timed steps alternate between a plain step and a profiled one, so the profiler's
/// own cost is visible (the two medians) rather than assumed.
struct BenchProfileCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "profile",
        abstract: "Per-op profile of a GLM training step: time per category and per op, achieved GFLOP/s and GB/s.")

    @Option(help: "Transformer layers.") var layers = 12
    @Option(help: "Hidden size.") var hidden = 768
    @Option(help: "Attention heads.") var heads = 12
    @Option(help: "Sequence length S (sep = S/2: part A bidirectional, loss on part B).") var seqLength = 512
    @Option(help: "Batch size B.") var batchSize = 2
    @Option(help: "Vocabulary (padded) V.") var vocab = 30592
    @Option(help: "Threads for oneDNN and the kernels.") var threads = 2
    @Option(help: "Profiled steps (as many plain steps are interleaved).") var steps = 3
    @Option(help: "Untimed warm-up steps.") var warmup = 1
    @Option(help: "Gradient clipping max norm (0: no clipping, the norm is still computed).") var clip: Float = 1
    @Option(help: "How many individual ops to list.") var top = 10
    @Option(help: "Seed of the random weights and batch.") var seed: UInt64 = 1234
    @Flag(help: "Recompute each layer in backward (--checkpoint-activations).") var checkpointActivations = false
    @Flag(help: "Vocabulary logits only at the loss positions (part B), as the trainer computes them, instead of at every position as the bench/README.md recipe (and the PyTorch baseline) does.")
    var lossRowsOnly = false
    @Flag(help: "Print one JSON object instead of the tables.") var json = false

    func validate() throws {
        for (n, v) in [("--layers", layers), ("--hidden", hidden), ("--heads", heads), ("--batch-size", batchSize),
                       ("--vocab", vocab), ("--threads", threads), ("--steps", steps), ("--top", top)] where v < 1 {
            throw ValidationError("\(n) must be ≥ 1, got \(v)")
        }
        guard seqLength >= 2 else { throw ValidationError("--seq-length must be ≥ 2") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be ≥ 0") }
        guard hidden % heads == 0 else { throw ValidationError("--hidden \(hidden) is not divisible by --heads \(heads)") }
        guard clip >= 0 else { throw ValidationError("--clip must be ≥ 0") }
    }

    /// perf-notes' FLOP model per training token: 6·N_mm + 12·L·h·S with N_mm = 12·L·h² + V·h.
    var flopsPerToken: Double {
        let l = Double(layers), h = Double(hidden), s = Double(seqLength)
        return 6 * (12 * l * h * h + Double(vocab) * h) + 12 * l * h * s
    }

    func run() throws {
        Runtime.setThreads(threads)
        var config = GLMConfig(numLayers: layers, hiddenSize: hidden, numAttentionHeads: heads, vocabSize: vocab,
                               maxSequenceLength: seqLength)
        config.embeddingDropoutProb = 0; config.outputDropoutProb = 0; config.attentionDropoutProb = 0
        config.checkpointActivations = checkpointActivations
        let step = try ProfiledTrainingStep(model: try GLMModel.random(config: config, seed: seed),
                                            batch: ProfileBatch(batch: batchSize, seq: seqLength, vocab: vocab, seed: seed &+ 7),
                                            clip: clip, lossRowsOnly: lossRowsOnly)
        for i in 0..<warmup {
            let ms = try step.run(profiler: nil)
            if !json { print(String(format: "  warm-up %d/%d: %.1f ms", i + 1, warmup, ms)) }
        }
        let profiler = Profiler()
        var plain: [Double] = [], profiled: [Double] = []
        for i in 0..<steps {
            plain.append(try step.run(profiler: nil))
            profiled.append(try step.run(profiler: profiler))
            if !json { print(String(format: "  step %d/%d: plain %.1f ms, profiled %.1f ms", i + 1, steps, plain[i], profiled[i])) }
        }
        let summary = profiler.summary(wallNanoseconds: UInt64(profiled.reduce(0, +) * 1e6), steps: steps)
        let report = ProfileReport(summary: summary, plainMedianMs: median(plain), profiledMedianMs: median(profiled),
                                   tokensPerStep: batchSize * seqLength, flopsPerToken: flopsPerToken, top: top)
        if json { print(report.json(header: header)); return }
        print("glm bench profile: \(header), \(threads) thread(s), \(warmup) warm-up + \(steps) profiled (+ \(steps) plain) steps")
        print(report.text)
    }

    var header: String {
        "L\(layers) H\(hidden) A\(heads) S\(seqLength) B\(batchSize) V\(vocab), fp32" + (checkpointActivations ? ", recompute" : "")
            + (lossRowsOnly ? ", logits at loss rows" : "")
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// The recipe's batch (bench/README.md): sep = S/2 for every sample; part A positions i, block position 0;
/// part B positions sep − 1, block positions 1…S − sep; ids and targets uniform in [0, V); loss mask on part B.
struct ProfileBatch {
    let ids: Tensor, positionIds: Tensor, targets: Tensor, lossMask: Tensor
    let seps: [Int]
    /// Flat indices (into b·s) of the loss positions and their targets, for logits at loss rows only.
    let lossRows: Tensor, lossTargets: Tensor

    init(batch b: Int, seq s: Int, vocab: Int, seed: UInt64) throws {
        var g = SeededGenerator(seed: seed)
        let sep = s / 2
        var ids: [Int32] = [], targets: [Int32] = [], pos: [Int32] = [], mask: [Float] = []
        for _ in 0..<b {
            for _ in 0..<s { ids.append(Int32(g.next() % UInt64(vocab))) }
            for _ in 0..<s { targets.append(Int32(g.next() % UInt64(vocab))) }
            for i in 0..<s { pos.append(Int32(i < sep ? i : sep - 1)) }
            for i in 0..<s { pos.append(Int32(i < sep ? 0 : i - sep + 1)) }
            for i in 0..<s { mask.append(i < sep ? 0 : 1) }
        }
        self.ids = try Tensor(shape: [b, s], ints: ids)
        self.targets = try Tensor(shape: [b, s], ints: targets)
        positionIds = try Tensor(shape: [b, 2, s], ints: pos)
        lossMask = try Tensor(shape: [b, s], values: mask)
        seps = [sep]
        let rows = mask.indices.filter { mask[$0] != 0 }
        lossRows = try Tensor(shape: [rows.count], ints: rows.map { Int32($0) })
        lossTargets = try Tensor(shape: [rows.count], ints: rows.map { targets[$0] })
    }
}

/// One training step as the trainer takes it: zero grads, forward, masked cross-entropy, backward,
/// clipGradNorm, AdamW (lr 1e-4, betas 0.9/0.98, eps 1e-6, weight decay 0.1 except biases and LayerNorm).
final class ProfiledTrainingStep {
    let model: GLMModel
    let batch: ProfileBatch
    let clip: Float
    let lossRowsOnly: Bool
    let optimizer: AdamW
    let parameterCount: Int

    init(model: GLMModel, batch: ProfileBatch, clip: Float, lossRowsOnly: Bool) throws {
        self.model = model
        self.batch = batch
        self.clip = clip
        self.lossRowsOnly = lossRowsOnly
        optimizer = AdamW(parameters: model.parameters, learningRate: 1e-4, beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.1)
        parameterCount = model.parameters.reduce(0) { $0 + $1.value.count }
    }

    /// Runs one step; returns its wall time in milliseconds. With a profiler, every op and phase is filed there.
    func run(profiler: Profiler?) throws -> Double {
        let start = Profiler.now()
        let p = Double(parameterCount)
        func phase<T>(_ name: String, _ work: OpWork, _ body: () throws -> T) rethrows -> T {
            guard let profiler else { return try body() }
            return try profiler.measure(name, work: work, body)
        }
        // zeroGrad only marks the gradients as zero (the first backward write replaces them): no bytes moved.
        phase("zeroGrad", .none) { optimizer.zeroGrad() }
        let tape = Tape(recording: true, training: false)
        tape.profiler = profiler
        let ce: CrossEntropyResult
        if lossRowsOnly {
            // The trainer's way: gather the loss positions' hidden states, logits only there (mask all 1).
            let out = try model.forward(ids: batch.ids, positionIds: batch.positionIds, mask: .sep(batch.seps), logits: .none, tape: tape)
            let flat = try tape.reshape(out.hidden, [batch.ids.count, model.config.hiddenSize])
            let logits = try tape.linear(try tape.embedding(batch.lossRows, table: flat), weight: model.word_embeddings.weight)
            ce = try tape.crossEntropy(logits, targets: batch.lossTargets)
        } else {
            let out = try model.forward(ids: batch.ids, positionIds: batch.positionIds, mask: .sep(batch.seps), logits: .all, tape: tape)
            ce = try tape.crossEntropy(out.logits!, targets: batch.targets, lossMask: batch.lossMask)
        }
        try tape.backward(ce.loss)
        let scale = phase("clipGradNorm", OpWork(bytes: 4 * p)) {
            clip > 0 ? clipGradNorm(model.parameters, maxNorm: clip).scale : { _ = gradientNorm(model.parameters); return 1 }()
        }
        // AdamW reads parameter, gradient and both moments and writes three of them: 7 floats per element.
        phase("adamw", OpWork(bytes: 28 * p)) { optimizer.step(gradScale: scale) }
        return Double(Profiler.now() - start) / 1e6
    }
}

/// The tables (or JSON) printed by `glm bench profile`.
struct ProfileReport {
    let summary: ProfileSummary
    let plainMedianMs: Double
    let profiledMedianMs: Double
    let tokensPerStep: Int
    let flopsPerToken: Double
    let top: Int

    var tokensPerSecond: Double { Double(tokensPerStep) / (plainMedianMs / 1000) }
    var modelGFLOPs: Double { flopsPerToken * tokensPerSecond / 1e9 }

    static func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
        let p = String(repeating: " ", count: max(0, w - s.count))
        return right ? p + s : s + p
    }

    static func rate(_ r: ProfileSummary.Row) -> String {
        r.rate.map { String(format: "%.1f %@", $0, r.rateUnit) } ?? ""
    }

    var text: String {
        var out = ""
        let s = summary
        out += String(format: "\nstep wall (median): plain %.1f ms, profiled %.1f ms (profiler cost %+.1f %%)\n",
                      plainMedianMs, profiledMedianMs, (profiledMedianMs / plainMedianMs - 1) * 100)
        out += String(format: "tokens/s %.1f (plain step); FLOP model %.1f MFLOP/token → %.1f GFLOP/s achieved\n",
                      tokensPerSecond, flopsPerToken / 1e6, modelGFLOPs)
        out += String(format: "profiled phases per step: forward %.1f ms, backward %.1f ms, optimizer %.1f ms (wall %.1f ms)\n\n",
                      s.phaseSeconds(.forward) * 1000 / Double(s.steps), s.phaseSeconds(.backward) * 1000 / Double(s.steps),
                      s.phaseSeconds(.step) * 1000 / Double(s.steps), s.wallMsPerStep)
        out += Self.pad("category", 14) + Self.pad("ms/step", 10, right: true) + Self.pad("share", 9, right: true) + "   rate\n"
        for r in s.categories {
            out += Self.pad(r.label, 14) + Self.pad(String(format: "%.1f", r.msPerStep), 10, right: true)
                + Self.pad(String(format: "%.1f %%", r.share * 100), 9, right: true) + "   " + Self.rate(r) + "\n"
        }
        out += Self.pad("total (wall)", 14) + Self.pad(String(format: "%.1f", s.wallMsPerStep), 10, right: true)
            + Self.pad("100.0 %", 9, right: true) + "\n\n"
        out += "top \(top) ops (exclusive time):\n"
        out += Self.pad("op", 58) + Self.pad("ms/step", 10, right: true) + Self.pad("share", 9, right: true)
            + Self.pad("calls", 7, right: true) + "   rate\n"
        for r in s.topOps(top) {
            out += Self.pad(r.label, 58) + Self.pad(String(format: "%.1f", r.msPerStep), 10, right: true)
                + Self.pad(String(format: "%.1f %%", r.share * 100), 9, right: true)
                + Self.pad(String(format: "%.0f", r.callsPerStep), 7, right: true) + "   " + Self.rate(r) + "\n"
        }
        return out
    }

    func json(header: String) -> String {
        func row(_ r: ProfileSummary.Row) -> String {
            let label = r.label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            var f = "{\"label\":\"\(label)\",\"category\":\"\(r.category.rawValue)\","
                + String(format: "\"ms_per_step\":%.2f,\"share\":%.4f,\"calls_per_step\":%.1f", r.msPerStep, r.share, r.callsPerStep)
            if let rate = r.rate { f += String(format: ",\"rate\":%.2f,\"unit\":\"%@\"", rate, r.rateUnit) }
            return f + "}"
        }
        return "{\"workload\":\"\(header)\","
            + String(format: "\"plain_step_ms\":%.1f,\"profiled_step_ms\":%.1f,\"tokens_per_s\":%.1f,\"model_gflops\":%.1f,",
                     plainMedianMs, profiledMedianMs, tokensPerSecond, modelGFLOPs)
            + "\"categories\":[" + summary.categories.map(row).joined(separator: ",") + "],"
            + "\"top_ops\":[" + summary.topOps(top).map(row).joined(separator: ",") + "]}"
    }
}
