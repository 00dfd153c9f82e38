import ArgumentParser
import Foundation
import GLM
import GLMEngine
import GLMGeneration
import GLMServer
import GLMServing
import GLMTokenizers

/// `glm serve`: the HTTP API (OpenAI-shaped completions, GLM blank filling and multiple-choice scoring)
/// with continuous batching. A thin shell over GLMServing (the logic) and GLMServer (Hummingbird).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a GLM model over HTTP: /v1/completions (OpenAI-shaped, streaming), /v1/glm/fill, /v1/glm/choices, continuous batching.",
        discussion: """
            Endpoints: POST /v1/completions, POST /v1/glm/fill, POST /v1/glm/choices, POST /v1/tokenize, \
            GET /v1/models, GET /health, GET /metrics (Prometheus text). Loopback by default; with --api-key \
            (or GLM_API_KEY) every request needs 'Authorization: Bearer KEY'. SIGTERM/SIGINT stop accepting, \
            let running requests finish, then exit. See README "Serving".
            """)

    @Option(help: "Model folder or weights file (any layout glm convert reads). Default: the built-in model.")
    var model: String?
    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "Address to listen on (loopback by default).") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port).") var port = 8080
    @Option(name: .customLong("max-batch"), help: "Sequences decoded together at most (continuous batching).") var maxBatch = 16
    @Option(name: .customLong("max-queue"), help: "Sequences waiting at most; beyond it requests get 429.") var maxQueue = 256
    @Option(name: .customLong("api-key"), help: "Require 'Authorization: Bearer KEY' (default: env GLM_API_KEY; none: open).")
    var apiKey: String?
    @Option(name: [.customLong("weights"), .customLong("dtype")], help: DecodingWeightsOption.help) var weights: DecodingWeightsOption = .auto
    @Option(name: .customLong("kv-cache"), help: KVCacheOption.help) var kvCache: KVCacheOption = .auto
    @Option(help: MemoryMapOption.help) var mmap: MemoryMapOption = .auto
    @Option(help: "Threads for oneDNN and the kernels.") var threads: Int?
    @Option(name: .customLong("idle-timeout"), help: "Seconds a connection may send nothing (idle keep-alive, a stalled request) before it is closed; answering a request never counts.")
    var idleTimeout: Double = 30
    @Option(name: .customLong("random-model"), help: "Serve random weights of a published model's shape and tokenizer (e.g. glm-base), for load benchmarks.")
    var randomModel: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535") }
        guard maxBatch >= 1 else { throw ValidationError("--max-batch must be ≥ 1") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must be ≥ 0") }
        guard idleTimeout > 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout must be > 0 seconds") }
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if randomModel != nil && model != nil { throw ValidationError("--random-model and --model exclude each other") }
    }

    func run() async throws {
        if let threads { Runtime.setThreads(threads) }
        var storage = weights.resolved
        let started = Date()
        let generator: GLMGenerator
        let modelID: String
        if let randomModel {
            guard let preset = GLMPreset.all.first(where: { $0.name == randomModel }) else {
                throw ValidationError("--random-model \(randomModel): not a preset (\(GLMPreset.all.map(\.name).joined(separator: ", ")))")
            }
            let tokenizer = try TokenizerLoader.load(presetNamed: preset.tokenizer)
            generator = try GLMGenerator(model: try GLMModel.random(config: preset.config, seed: 1234), tokenizer: tokenizer,
                                         packedWeights: storage)
            modelID = "\(preset.name)-random"
        } else {
            let path = try model ?? DefaultModel.path()
            let (resolved, mapped) = try weights.resolved(forModelAt: path, mmap: mmap)  // bf16/int8 conversions: memory-mapped
            storage = resolved
            generator = try GLMGenerator.load(path, options: modelOptions.loadOptions, packedWeights: storage, mapConverted: mapped)
            modelID = URL(fileURLWithPath: path).standardizedFileURL.lastPathComponent
        }
        generator.kvCacheStorage = kvCache.storage(forWeights: storage)
        let service = try GLMService(generator: generator, modelID: modelID, maxBatch: maxBatch, maxQueue: maxQueue)
        let key = apiKey ?? ProcessInfo.processInfo.environment["GLM_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let loadSeconds = Date().timeIntervalSince(started)
        let storageName = storage.shortName
        try await GLMServerApp.run(service: service, options: GLMServerOptions(host: host, port: port, apiKey: key, idleTimeoutSeconds: idleTimeout)) { bound in
            let line = String(format: "glm serve: %@ (%@ weights) on http://%@:%d (max batch %d, max queue %d%@), loaded in %.1f s",
                              modelID, storageName, host, bound, maxBatch, maxQueue, key == nil ? "" : ", API key required", loadSeconds)
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        FileHandle.standardError.write(Data("glm serve: drained, exiting\n".utf8))
    }
}
