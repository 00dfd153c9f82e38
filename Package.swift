// swift-tools-version:6.0
// SwiftGLM: GLM (General Language Model) in Swift, on a CPU engine over oneDNN.
//
// Dependencies point one way (each target declares exactly what it imports):
//   CGLMKernels, CGLMOneDNN → GLMEngine → GLMCheckpoint, GLM → GLMTokenizers → GLMGeneration, GLMTraining
//       → GLMTasks (finetuning: also GLMTraining), GLMBenchmarks (also GLMTasks) → SwiftGLM (the umbrella library), glm (the command-line tool)
//   GLMSupport: a leaf (imports no project module) used by GLMCheckpoint, GLM, GLMTokenizers, GLMGeneration,
//       GLMTraining and glm;  CGLMSystem → GLMTraining;  GLMParity (the fixture harness) → glm, GLMTests
//   GLMTestSupport (the reference-fixtures locator) → the test targets that read the fixtures
//   CMPI (system Open MPI) → CGLMMPI (C shim) → GLMDistributed (+ GLMTraining) → glm, GLMDistributedTests;
//       NOT in the SwiftGLM umbrella: a program using the library links no MPI
//   GLMServing (the server's library: API types, validation, the continuous-batching scheduler; no HTTP)
//       → GLMServer (the Hummingbird 2 app) → glm (`glm serve`), GLMServerTests (also AsyncHTTPClient)
//   The SwiftGLM umbrella never depends on Hummingbird: the server is reached through glm and its own target.
import PackageDescription

/// C kernels are built optimised in a development checkout, so that debug builds (`swift test`) do not
/// run numeric loops at -O0. SwiftPM refuses a versioned dependency whose products use `unsafeFlags`,
/// so the flags are added only where this manifest is evaluated in a git work tree whose HEAD carries no
/// version tag — a clone on a branch, as in development and CI. A package that depends on SwiftGLM by
/// version gets a checkout at a tag (or no git information during resolution): no unsafe flags there,
/// and its C kernels follow its own build configuration (release: optimised by SwiftPM).
/// `SWIFTGLM_PORTABLE_FLAGS=1` in the environment builds a development checkout the same way.
let developmentCheckout: Bool = {
    if Context.environment["SWIFTGLM_PORTABLE_FLAGS"] == "1" { return false }
    guard let git = Context.gitInformation else { return false }
    return git.currentTag == nil
}()
let cOptimised: [CSetting] = developmentCheckout ? [.unsafeFlags(["-O3", "-fno-math-errno", "-Wall"])] : []

let package = Package(
    name: "SwiftGLM",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "glm", targets: ["glm"]),
        .library(name: "SwiftGLM", targets: ["SwiftGLM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Tests of the server only (real HTTP over loopback).
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // Leaf helpers several modules need: atomic writer, memory map, JSON text, CRC-32/FNV, lines, min-heap.
        .target(name: "GLMSupport"),
        // SIMD hot loops (AVX-512 / AVX2 / scalar, chosen at run time), forward+backward pairs with naive twins.
        .target(name: "CGLMKernels", cSettings: cOptimised,
                linkerSettings: [.linkedLibrary("m"), .linkedLibrary("gomp")]),
        // The only place that talks to oneDNN: sgemm, matmul primitive (bf16, pre-packed weights).
        .target(name: "CGLMOneDNN", cSettings: cOptimised, linkerSettings: [.linkedLibrary("dnnl")]),
        // Process-level C: the async-signal-safe stop handler (SIGINT/SIGTERM) of training runs.
        .target(name: "CGLMSystem"),
        // The system MPI (Open MPI: libopenmpi-dev); header path and link line from pkg-config.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev", "openmpi-bin"]), .brew(["open-mpi"])]),
        // Plain C functions over MPI's macros and globals (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM …) for Swift.
        .target(name: "CGLMMPI", dependencies: ["CMPI"]),
        // Multi-process training on MPI: communicators, process groups, the collectives data parallelism uses.
        .target(name: "GLMDistributed", dependencies: ["CGLMMPI", "GLMTraining"]),
        // Tensors, dtypes, ops with hand-written backward passes, the autograd tape, gradcheck.
        .target(name: "GLMEngine", dependencies: ["CGLMKernels", "CGLMOneDNN"]),
        // Checkpoint containers: torch zip + allow-list unpickler, safetensors, model-parallel shards.
        .target(name: "GLMCheckpoint", dependencies: ["GLMSupport"]),
        // GLMConfig, presets, the model, loading/saving models in every layout.
        .target(name: "GLM", dependencies: ["GLMEngine", "GLMCheckpoint", "GLMSupport"]),
        // The parity/inspection harness: runs fixture cases (JSON in, named tensors out) for tests and `glm inspect`.
        .target(name: "GLMParity", dependencies: ["GLM", "GLMEngine", "GLMCheckpoint"]),
        // WordPiece, GPT-2/RoBERTa byte-level BPE, SentencePiece, GLM command tokens, presets.
        .target(name: "GLMTokenizers", dependencies: ["GLMSupport"], resources: [.copy("Vocab")]),
        // Blank filling: prompt processing, greedy/sampling/beam search, K/V cache, streaming.
        .target(name: "GLMGeneration", dependencies: ["GLMEngine", "GLM", "GLMTokenizers", "GLMSupport"]),
        // Blank-infilling data, the trainer, LR schedules, resumable checkpoints.
        .target(name: "GLMTraining", dependencies: ["CGLMSystem", "GLMEngine", "GLMCheckpoint", "GLM", "GLMTokenizers", "GLMSupport"]),
        // The umbrella: `import SwiftGLM` re-exports the public API of every library module.
        .target(name: "SwiftGLM", dependencies: ["GLMEngine", "GLMCheckpoint", "GLM", "GLMTokenizers", "GLMGeneration", "GLMTraining", "GLMTasks"]),
        // Downstream tasks: zero-shot multiple-choice scoring and evaluation as the original's tasks/ code.
        .target(name: "GLMTasks", dependencies: ["GLMEngine", "GLMCheckpoint", "GLM", "GLMTokenizers", "GLMGeneration", "GLMTraining"]),
        // Throughput benchmarks of GEMMs, kernels, training, forward and decode steps, and the training-step profile.
        .target(name: "GLMBenchmarks", dependencies: ["CGLMKernels", "CGLMOneDNN", "GLMEngine", "GLM", "GLMGeneration", "GLMTraining", "GLMTasks"]),
        // `glm serve`'s library: OpenAI-shaped request/response types, validation with OpenAI-style errors,
        // the continuous-batching scheduler, metrics text. Knows nothing about HTTP.
        .target(name: "GLMServing", dependencies: ["GLM", "GLMTokenizers", "GLMGeneration", "GLMTasks"]),
        // The HTTP API on Hummingbird 2: routes, auth, body limits, SSE streaming, graceful shutdown.
        .target(name: "GLMServer", dependencies: [
            "GLMServing",
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
        // The command-line tool: a thin shell, one file per subcommand.
        .executableTarget(name: "glm", dependencies: [
            "GLMEngine", "GLMCheckpoint", "GLM", "GLMParity", "GLMTokenizers", "GLMGeneration", "GLMTraining", "GLMTasks",
            "GLMBenchmarks", "GLMSupport", "GLMDistributed", "GLMServing", "GLMServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Test helpers shared by the test targets: the reference-fixtures locator, scratch folders.
        .target(name: "GLMTestSupport", path: "Tests/GLMTestSupport"),
        .testTarget(name: "GLMSupportTests", dependencies: ["GLMSupport"]),
        .testTarget(name: "GLMEngineTests", dependencies: ["GLMEngine", "CGLMKernels", "CGLMOneDNN"]),
        .testTarget(name: "GLMCheckpointTests", dependencies: ["GLMCheckpoint", "GLMSupport", "GLMTestSupport"]),
        .testTarget(name: "GLMTests", dependencies: ["GLM", "GLMParity", "GLMEngine", "GLMCheckpoint", "GLMTestSupport"]),
        .testTarget(name: "GLMTokenizersTests", dependencies: ["GLMTokenizers", "GLMSupport", "GLMTestSupport"]),
        .testTarget(name: "GLMGenerationTests", dependencies: ["GLMGeneration", "GLM", "GLMEngine", "GLMCheckpoint", "GLMTokenizers", "GLMTestSupport"]),
        .testTarget(name: "GLMTrainingTests", dependencies: ["GLMTraining", "GLM", "GLMEngine", "GLMTokenizers", "GLMTestSupport"]),
        .testTarget(name: "GLMTasksTests", dependencies: ["GLMTasks", "GLM", "GLMEngine", "GLMTokenizers", "GLMGeneration", "GLMTraining", "GLMTestSupport"]),
        .testTarget(name: "GLMBenchmarksTests", dependencies: ["GLMBenchmarks", "GLMTraining", "GLMEngine"]),
        .testTarget(name: "GLMDistributedTests", dependencies: ["GLMDistributed", "GLMTraining", "GLMTestSupport"]),
        .testTarget(name: "GLMServerTests", dependencies: [
            "GLMServer", "GLMServing", "GLMGeneration", "GLMTestSupport",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .testTarget(name: "SwiftGLMTests", dependencies: ["SwiftGLM", "GLMTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
