// swift-tools-version:6.0
// SwiftGLM: GLM (General Language Model) in Swift, on a CPU engine over oneDNN.
//
// Dependencies point one way:
//   CKernels, CDNNL  →  Engine  →  Checkpoint, GLM  →  Tokenizers  →  Generation, Training  →  Benchmarks  →  glm
import PackageDescription

/// C kernels are always built optimised: debug builds of numeric loops are otherwise too slow to test.
let cOptimised: [CSetting] = [.unsafeFlags(["-O3", "-fno-math-errno", "-Wall"])]

let package = Package(
    name: "SwiftGLM",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "glm", targets: ["glm"]),
        .library(name: "SwiftGLM", targets: ["GLMEngine", "GLMCheckpoint", "GLM", "GLMTokenizers", "GLMGeneration", "GLMTraining", "GLMBenchmarks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // SIMD hot loops (AVX-512 / AVX2 / scalar, chosen at run time), forward+backward pairs with naive twins.
        .target(name: "CGLMKernels", cSettings: cOptimised,
                linkerSettings: [.linkedLibrary("m"), .unsafeFlags(["-Xlinker", "-l:libgomp.so.1"])]),
        // The only place that talks to oneDNN: sgemm, matmul primitive (bf16, pre-packed weights).
        .target(name: "CGLMOneDNN", cSettings: cOptimised, linkerSettings: [.linkedLibrary("dnnl")]),
        // Tensors, dtypes, ops with hand-written backward passes, the autograd tape, gradcheck.
        .target(name: "GLMEngine", dependencies: ["CGLMKernels", "CGLMOneDNN"]),
        // Checkpoint containers: torch zip + allow-list unpickler, safetensors, model-parallel shards.
        .target(name: "GLMCheckpoint"),
        // GLMConfig, presets, the model, loading/saving models in every layout.
        .target(name: "GLM", dependencies: ["GLMEngine", "GLMCheckpoint"]),
        // WordPiece, GPT-2/RoBERTa byte-level BPE, SentencePiece, GLM command tokens, presets.
        .target(name: "GLMTokenizers", resources: [.copy("Vocab")]),
        // Blank filling: prompt processing, greedy/sampling/beam search, K/V cache, streaming.
        .target(name: "GLMGeneration", dependencies: ["GLMEngine", "GLM", "GLMTokenizers"]),
        // Blank-infilling data, the trainer, LR schedules, resumable checkpoints.
        .target(name: "GLMTraining", dependencies: ["CGLMKernels", "GLMEngine", "GLMCheckpoint", "GLM", "GLMTokenizers"]),
        // Throughput benchmarks of GEMMs, kernels, training and forward steps, and the training-step profile.
        .target(name: "GLMBenchmarks", dependencies: ["CGLMKernels", "CGLMOneDNN", "GLMEngine", "GLM", "GLMTraining"]),
        // The command-line tool: a thin shell, one file per subcommand.
        .executableTarget(name: "glm", dependencies: [
            "GLMEngine", "GLMCheckpoint", "GLM", "GLMTokenizers", "GLMGeneration", "GLMTraining", "GLMBenchmarks",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "GLMEngineTests", dependencies: ["GLMEngine", "CGLMKernels", "CGLMOneDNN"]),
        .testTarget(name: "GLMCheckpointTests", dependencies: ["GLMCheckpoint"]),
        .testTarget(name: "GLMTests", dependencies: ["GLM", "GLMEngine", "GLMCheckpoint"]),
        .testTarget(name: "GLMTokenizersTests", dependencies: ["GLMTokenizers"]),
        .testTarget(name: "GLMGenerationTests", dependencies: ["GLMGeneration", "GLM", "GLMEngine", "GLMCheckpoint", "GLMTokenizers"]),
        .testTarget(name: "GLMTrainingTests", dependencies: ["GLMTraining", "GLM", "GLMEngine", "GLMTokenizers"]),
        .testTarget(name: "GLMBenchmarksTests", dependencies: ["GLMBenchmarks", "GLMTraining", "GLMEngine"]),
    ],
    swiftLanguageModes: [.v6]
)
