// The end-of-epoch checkpoint of a fine-tuning run (`glm finetune --resume`).
import Foundation
import GLM
import GLMCheckpoint
import GLMEngine

/// What a fine-tuning run needs to continue after its last finished epoch: the weights, AdamW's moments
/// and step, the best epoch (its weights, score and metrics), the epoch reports and step losses so far.
/// Every random stream is a function of (seed, epoch / step), so a resumed run equals an uninterrupted one.
///
/// Folder layout: `state.json`, `model.safetensors` (current weights), `best.safetensors` (the best
/// epoch's weights), `optimizer.safetensors` (`exp_avg.<name>`, `exp_avg_sq.<name>`). The folder is
/// written beside its place and renamed into it, so it is always a complete epoch.
struct FinetuneCheckpoint {
    struct Metric: Codable, Equatable { var name: String; var value: Double }
    struct Epoch: Codable { var epoch: Int; var trainLoss: Double?; var metrics: [Metric]; var isBest: Bool; var seconds: Double }
    struct State: Codable {
        var format = "swiftglm-finetune-checkpoint"
        var version = 1
        /// What must not change between the run and its resume.
        var run: String
        var epoch: Int
        var step: Int
        var optimizerStep: Int64
        /// The best epoch so far; nil in a checkpoint written before the first evaluation (a stop signal
        /// then), which also has no best.safetensors.
        var bestEpoch: Int?
        var bestScore: Double?
        var bestMetrics: [Metric]?
        var epochs: [Epoch]
        /// nil = a non-finite (skipped) step.
        var stepLosses: [Double?]
        /// Set when the run stopped inside an epoch (SIGINT/SIGTERM): that epoch and how far it got. The
        /// epoch's sample order is a function of (seed, epoch), so its remaining steps are known.
        var partial: PartialEpoch?
    }

    /// An epoch stopped after `steps` steps: its train-loss sum and count so far, and its time.
    struct PartialEpoch: Codable, Equatable {
        var epoch: Int
        var steps: Int
        var lossSum: Double
        var lossCount: Int
        var seconds: Double
    }

    static let stateFile = "state.json", modelFile = "model.safetensors", bestFile = "best.safetensors"
    static let optimizerFile = "optimizer.safetensors"

    static func exists(_ folder: String) -> Bool {
        FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent(stateFile))
    }

    static func metrics(_ m: [(name: String, value: Double)]) -> [Metric] { m.map { Metric(name: $0.name, value: $0.value) } }

    /// - moments: the FULL AdamW moments, one tensor per model parameter (`FinetuneUpdater.moments()`).
    static func save(_ state: State, model: GLMModel, best: [[Float]]?, moments: (expAvg: [Tensor], expAvgSq: [Tensor]),
                     to folder: String) throws {
        let fm = FileManager.default
        let staging = folder + ".partial-\(ProcessInfo.processInfo.processIdentifier)"
        let old = folder + ".old-\(ProcessInfo.processInfo.processIdentifier)"
        try? fm.removeItem(atPath: staging)
        try fm.createDirectory(atPath: staging, withIntermediateDirectories: true)
        do {
            let params = model.parameters
            try Safetensors.write(model.stateDict(), to: staging + "/" + modelFile)
            if let best {
                try Safetensors.write(zip(params, best).map { ($0.name, TensorData(float32: $1, shape: $0.shape)) }, to: staging + "/" + bestFile)
            }
            var stored: [(String, TensorData)] = []
            for (i, p) in params.enumerated() {
                stored.append(("exp_avg." + p.name, TensorData(float32: moments.expAvg[i].toFloats(), shape: p.shape)))
                stored.append(("exp_avg_sq." + p.name, TensorData(float32: moments.expAvgSq[i].toFloats(), shape: p.shape)))
            }
            try Safetensors.write(stored, to: staging + "/" + optimizerFile, metadata: ["format": "swiftglm-adamw"])
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            try e.encode(state).write(to: URL(fileURLWithPath: staging + "/" + stateFile), options: .atomic)
            if fm.fileExists(atPath: folder) {
                try? fm.removeItem(atPath: old)
                try fm.moveItem(atPath: folder, toPath: old)
            }
            try fm.moveItem(atPath: staging, toPath: folder)
            try? fm.removeItem(atPath: old)
        } catch {
            try? fm.removeItem(atPath: staging)
            throw error
        }
    }

    /// Reads the state and puts the weights and the optimizer state back; returns the state and the best weights.
    static func restore(from folder: String, run: String, model: GLMModel, optimizer: FinetuneUpdater) throws -> (state: State, best: [[Float]]?) {
        func fail(_ m: String) -> SuperGLUEError { .configuration("checkpoint \(folder): \(m)") }
        let state = try JSONDecoder().decode(State.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/" + stateFile)))
        guard state.format == "swiftglm-finetune-checkpoint", state.version == 1 else { throw fail("not a fine-tuning checkpoint of version 1") }
        guard state.run == run else { throw fail("was written by a different run (\(state.run)); this run is \(run)") }
        let params = model.parameters
        func read(_ file: String, _ key: (Parameter) -> String) throws -> [[Float]] {
            let f = try SafetensorsFile(path: folder + "/" + file)
            return try params.map { p in
                let data = try f.tensor(key(p))
                var whole = [Float](repeating: 0, count: data.elementCount)
                whole.withUnsafeMutableBufferPointer { data.copyFloats(into: $0) }
                let mine = try part(whole, shape: data.shape, name: p.name, of: model)   // model parallel: this rank's part
                guard mine.shape == p.shape else { throw fail("\(file): \(key(p)) has shape \(data.shape), the model \(p.shape)") }
                return mine.values
            }
        }
        let current = try read(modelFile, \.name)
        let best = state.bestEpoch == nil ? nil : try read(bestFile, \.name)
        func tensors(_ values: [[Float]]) throws -> [Tensor] { try zip(params, values).map { try Tensor(shape: $0.shape, values: $1) } }
        let m = try tensors(try read(optimizerFile) { "exp_avg." + $0.name })
        let v = try tensors(try read(optimizerFile) { "exp_avg_sq." + $0.name })
        for (p, values) in zip(params, current) {
            values.withUnsafeBufferPointer { p.value.floats.update(from: $0.baseAddress!, count: $0.count) }
            p.markModified()
        }
        try optimizer.restore(step: state.optimizerStep, expAvg: m, expAvgSq: v)
        return (state, best)
    }
}

/// Where a finetuning run starts: nothing done for a new run, or what the checkpoint in `folder` recorded
/// when resuming (the model's weights and the AdamW moments are restored as a side effect). Shared by the
/// SuperGLUE and the seq2seq finetuners.
typealias FinetuneStart = (best: FinetuneBest?, epochs: [FinetuneEpochReport], losses: [Double], step: Int, firstEpoch: Int,
                           partial: FinetuneCheckpoint.PartialEpoch?)

/// The best epoch so far: its number, score, dev metrics and the trained parameters' values.
typealias FinetuneBest = (epoch: Int, score: Double, metrics: [(name: String, value: Double)], weights: [[Float]])

extension FinetuneCheckpoint {
    static func start(resume: Bool, folder: String?, run: String, model: GLMModel, optimizer: FinetuneUpdater) throws -> FinetuneStart {
        guard resume, let folder, exists(folder) else { return (nil, [], [], 0, 1, nil) }
        let (state, bestWeights) = try restore(from: folder, run: run, model: model, optimizer: optimizer)
        let epochs = state.epochs.map {
            FinetuneEpochReport(epoch: $0.epoch, trainLoss: $0.trainLoss ?? .nan, metrics: $0.metrics.map { (name: $0.name, value: $0.value) },
                                isBest: $0.isBest, seconds: $0.seconds)
        }
        var best: FinetuneBest?
        if let e = state.bestEpoch, let weights = bestWeights {
            best = (e, state.bestScore ?? .nan, (state.bestMetrics ?? []).map { (name: $0.name, value: $0.value) }, weights)
        }
        return (best, epochs, state.stepLosses.map { $0 ?? .nan }, state.step, state.partial?.epoch ?? state.epoch + 1, state.partial)
    }
}

extension FinetuneCheckpoint {
    /// Writes the run's checkpoint (replacing the previous one in one rename): the step reached, the last
    /// finished epoch (and `partial`, when stopped inside the next one), the best epoch so far with its
    /// weights (nil: none evaluated yet), every epoch's report and step loss, and the AdamW state.
    static func saveRun(epoch: Int, step: Int, partial: PartialEpoch? = nil, run: String, best: FinetuneBest?,
                        epochs: [FinetuneEpochReport], losses: [Double], model: GLMModel, optimizerStep: Int64,
                        moments: (expAvg: [Tensor], expAvgSq: [Tensor]), to folder: String) throws {
        let state = State(
            run: run, epoch: epoch, step: step, optimizerStep: optimizerStep, bestEpoch: best?.epoch,
            bestScore: best?.score, bestMetrics: best.map { metrics($0.metrics) },
            epochs: epochs.map { Epoch(epoch: $0.epoch, trainLoss: $0.trainLoss.isFinite ? $0.trainLoss : nil,
                                       metrics: metrics($0.metrics), isBest: $0.isBest, seconds: $0.seconds) },
            stepLosses: losses.map { $0.isFinite ? $0 : nil }, partial: partial)
        try save(state, model: model, best: best?.weights, moments: moments, to: folder)
    }

    /// Puts the kept epoch's weights back into the trained parameters.
    static func restoreWeights(_ weights: [[Float]], into parameters: [Parameter]) {
        for (p, values) in zip(parameters, weights) {
            values.withUnsafeBufferPointer { src in p.value.floats.update(from: src.baseAddress!, count: src.count) }
            p.markModified()
        }
    }
}
