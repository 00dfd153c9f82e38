import Foundation
import GLMCheckpoint
import GLMEngine
import GLMTestSupport
import XCTest
@testable import GLM

/// `StreamingConverter` (glm convert): one tensor at a time from every layout, byte-identical to the
/// in-memory conversion; a working set that does not grow with the model; int8 files that say clearly
/// what is wrong with them.
final class StreamingConvertTests: XCTestCase {
    let tinyOptions = ModelLoadOptions(heads: 4, tokenizer: "glm-large")
    var tinyBert: String { ReferenceFixtures.rootPath + "/models/glm-tiny-bert" }

    /// Every file of `a` equals the same file of `b`, byte for byte.
    func assertSameFolders(_ a: String, _ b: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let fm = FileManager.default
        let names = try fm.contentsOfDirectory(atPath: a).filter { !$0.hasPrefix(".") }.sorted()
        XCTAssertEqual(names, try fm.contentsOfDirectory(atPath: b).filter { !$0.hasPrefix(".") }.sorted(), what, file: file, line: line)
        for n in names {
            let x = try Data(contentsOf: URL(fileURLWithPath: a + "/" + n))
            let y = try Data(contentsOf: URL(fileURLWithPath: b + "/" + n))
            XCTAssertTrue(x == y, "\(what): \(n) differs (\(x.count) vs \(y.count) bytes)", file: file, line: line)
        }
    }

    func testStreamingConvertOfEveryLayoutEqualsInMemoryConversion() throws {
        _ = try ReferenceFixtures.path("models/glm-tiny-bert/model.safetensors")
        let scratch = try ReferenceFixtures.scratchFolder(for: self, prefix: "stream-convert")
        let sources: [(String, ModelLoadOptions)] = [
            (tinyBert, ModelLoadOptions()),                                   // safetensors
            (tinyBert + "/hf", ModelLoadOptions(tokenizer: "glm-large")),     // HF pytorch_model.bin
            (tinyBert + "/checkpoint_MP2", tinyOptions),                      // original layout, 2 MP ranks merged
        ]
        for (i, (source, options)) in sources.enumerated() {
            let loaded = try ModelFiles.load(source, options: options)
            for target in [ConversionTarget.float(.bfloat16), .int8] {
                for shard in [nil, 300_000] as [Int?] {
                    let tag = "\(i)-\(target.name)-\(shard ?? 0)"
                    let streamed = scratch + "/s-" + tag, inMemory = scratch + "/m-" + tag
                    let r = try StreamingConverter.convert(source: source, to: streamed, target: target, maxShardBytes: shard, options: options)
                    switch target {
                    case .int8: try ModelWriter.saveInt8Safetensors(config: loaded.config, weights: loaded.weights, to: inMemory, maxShardBytes: shard)
                    case .float(let d): try ModelWriter.saveSafetensors(config: loaded.config, weights: loaded.weights, to: inMemory, dtype: d, maxShardBytes: shard)
                    }
                    try assertSameFolders(streamed, inMemory, "\(source) → \(target.name), shards \(shard ?? 0)")
                    XCTAssertEqual(r.maxLiveTensors, 1)
                    XCTAssertEqual(r.files.count > 1, shard != nil, tag)
                }
            }
        }
        // The int8 file is self-describing, and reads back (dequantised) as a float model of the same shapes.
        let st = try SafetensorsFile(path: scratch + "/s-0-int8-0/model.safetensors")
        XCTAssertEqual(st.metadata[Int8Weights.metadataKey], Int8Weights.formatName)
        XCTAssertEqual(st.infos["transformer.layers.0.mlp.dense_h_to_4h.weight"]?.dtype, .int8)
        XCTAssertEqual(st.infos["transformer.layers.0.mlp.dense_h_to_4h.weight.scale"]?.shape, [128])
        XCTAssertEqual(st.infos["word_embeddings.weight"]?.dtype, .bfloat16)
        XCTAssertEqual(st.infos["transformer.layers.0.input_layernorm.weight"]?.dtype, .float32)
        let back = try ModelFiles.load(scratch + "/s-0-int8-0")
        let ref = try ModelFiles.load(tinyBert)
        let w = back.weights["transformer.layers.1.attention.dense.weight"]!.floats()
        let w0 = ref.weights["transformer.layers.1.attention.dense.weight"]!.floats()
        let scale = try st.tensor("transformer.layers.1.attention.dense.weight.scale").floats()
        for (j, (a, b)) in zip(w, w0).enumerated() {
            XCTAssertLessThanOrEqual(abs(a - b), scale[j / 32] * 0.5001, "int8 round trip within half a step")
        }
    }

    /// A random model in the original MP=2 layout with `layers` layers.
    func mp2Checkpoint(layers: Int, in folder: String) throws -> String {
        let c = GLMConfig(numLayers: layers, hiddenSize: 64, numAttentionHeads: 4, vocabSize: 256, maxSequenceLength: 32,
                          tokenizer: "glm-large")
        let model = try GLMModel.random(config: c, seed: 3)
        let path = folder + "/mp2-\(layers)"
        try ModelWriter.saveTrainingCheckpoint(config: c, weights: Dictionary(uniqueKeysWithValues: model.stateDict()),
                                               to: path, modelParallel: 2, dtype: .float16)
        return path
    }

    func testConverterWorkingSetDoesNotGrowWithTheTensorCount() throws {
        let scratch = try ReferenceFixtures.scratchFolder(for: self, prefix: "stream-peak")
        var peaks: [ConversionTarget: [Int]] = [:]
        for layers in [2, 8] {
            let src = try mp2Checkpoint(layers: layers, in: scratch)
            for target in [ConversionTarget.float(.bfloat16), .int8] {
                let r = try StreamingConverter.convert(source: src, to: scratch + "/out-\(layers)-\(target.name)", target: target)
                XCTAssertEqual(r.maxLiveTensors, 1)
                XCTAssertEqual(r.tensors, 5 + 12 * layers)
                peaks[target, default: []].append(r.peakHeldBytes)
                // One merged fp16 tensor (the largest: word embeddings 256×64 or h_to_4h 256×64) plus blocks.
                let largestSource = 256 * 64 * 2
                XCTAssertLessThanOrEqual(r.peakHeldBytes, largestSource + 256 * 64 * 4 + 256 * 64 + 256 * 4, target.name)
            }
        }
        for (target, p) in peaks { XCTAssertEqual(p[0], p[1], "\(target.name): working set grew with 4× the tensors: \(p)") }
    }

    func testDamagedInt8FilesGiveErrorsNamingTheTensor() throws {
        _ = try ReferenceFixtures.path("models/glm-tiny-bert/model.safetensors")
        let scratch = try ReferenceFixtures.scratchFolder(for: self, prefix: "int8-damage")
        let good = scratch + "/good"
        _ = try StreamingConverter.convert(source: tinyBert, to: good, target: .int8)
        let st = try SafetensorsFile(path: good + "/model.safetensors")
        let victim = "transformer.layers.1.mlp.dense_4h_to_h.weight"

        func damaged(_ name: String, _ edit: ([(String, TensorData)]) -> [(String, TensorData)]) throws -> String {
            let folder = scratch + "/" + name
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: good + "/config.json", toPath: folder + "/config.json")
            try Safetensors.write(edit(try st.tensors()), to: folder + "/model.safetensors", metadata: st.metadata)
            return folder
        }
        func expectError(_ folder: String, containing parts: [String], file: StaticString = #filePath, line: UInt = #line) {
            for (what, load) in [("mapped", { _ = try MappedModel.load(folder) }), ("float", { _ = try ModelFiles.load(folder) })] as [(String, () throws -> Void)] {
                XCTAssertThrowsError(try load(), what, file: file, line: line) { e in
                    let m = "\(e)"
                    for p in parts { XCTAssertTrue(m.contains(p), "\(what): '\(m)' does not mention '\(p)'", file: file, line: line) }
                }
            }
        }
        // The scale of one matrix is missing.
        expectError(try damaged("no-scale") { $0.filter { $0.0 != victim + ".scale" } }, containing: [victim, ".scale"])
        // The scale has the wrong length.
        expectError(try damaged("short-scale") { ts in ts.map { $0.0 == victim + ".scale" ? ($0.0, TensorData(float32: [1, 2], shape: [2])) : $0 } },
                    containing: [victim + ".scale", "F32 [32]"])
        // The file is cut short inside the data: the header's offsets point past its end.
        let cut = scratch + "/cut"
        try FileManager.default.createDirectory(atPath: cut, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: good + "/config.json", toPath: cut + "/config.json")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good + "/model.safetensors"))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: cut + "/model.safetensors"))
        expectError(cut, containing: ["transformer.", "outside the data"])
    }
}

final class RandomCheckpointTests: XCTestCase {
    /// The original MP layout with the init scale: loads (ranks merged) as a model of the config's shapes,
    /// replicated tensors equal on every rank, std 0.02 (output projections 0.02/√(2L)), LayerNorm 1, biases 0.
    func testRandomCheckpointIsTheOriginalLayoutAtTheInitScale() throws {
        let scratch = try ReferenceFixtures.scratchFolder(for: self, prefix: "random-ckpt")
        let c = GLMConfig(numLayers: 2, hiddenSize: 64, numAttentionHeads: 4, vocabSize: 512, maxSequenceLength: 64, tokenizer: "glm-large")
        var reports: [Int] = []
        try RandomCheckpoint.write(config: c, to: scratch + "/m", modelParallel: 2, dtype: .float16, seed: 9) { w, t in reports.append(t - w) }
        XCTAssertEqual(reports.last, 0, "progress ends at the total")
        for f in ["latest_checkpointed_iteration.txt", "latest", "release/mp_rank_00_model_states.pt", "release/mp_rank_01_model_states.pt"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: scratch + "/m/" + f), f)
        }
        let loaded = try ModelFiles.load(scratch + "/m")
        XCTAssertEqual(loaded.layout, .trainingCheckpoint)
        XCTAssertEqual(loaded.modelParallelSize, 2)
        XCTAssertEqual(loaded.dtypeCounts.keys.sorted { $0.rawValue < $1.rawValue }, [.float16])
        func std(_ name: String) -> Double {
            let v = loaded.weights[name]!.floats().map(Double.init)
            let mean = v.reduce(0, +) / Double(v.count)
            return (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(v.count)).squareRoot()
        }
        XCTAssertEqual(std("word_embeddings.weight"), 0.02, accuracy: 0.001)
        XCTAssertEqual(std("transformer.layers.0.mlp.dense_h_to_4h.weight"), 0.02, accuracy: 0.001)
        XCTAssertEqual(std("transformer.layers.1.mlp.dense_4h_to_h.weight"), 0.01, accuracy: 0.0007)
        XCTAssertEqual(Set(loaded.weights["transformer.layers.1.input_layernorm.weight"]!.floats()), [1])
        XCTAssertEqual(Set(loaded.weights["transformer.layers.1.attention.dense.bias"]!.floats()), [0])
        let ranks = try (0..<2).map { try TorchFile(path: scratch + "/m/release/mp_rank_0\($0)_model_states.pt") }
        let pos = try ranks.map { f -> TensorData in
            let (sd, _) = try ModelFiles.stateDictValue(f)
            return try f.stateDict(sd.value, context: sd.context).first { $0.0 == "transformer.position_embeddings.weight" }!.1
        }
        XCTAssertTrue(pos[0].bitwiseEqual(pos[1]), "replicated tensors differ between ranks")
    }
}

extension ConversionTarget: Hashable {
    public func hash(into h: inout Hasher) { h.combine(name) }
}
