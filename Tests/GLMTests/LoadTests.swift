import Foundation
import XCTest
import GLMCheckpoint
@testable import GLM

final class LoadTests: XCTestCase {
    var tinyBert: String { GLMFixtures.root + "/models/glm-tiny-bert" }
    let tinyOptions = ModelLoadOptions(heads: 4, tokenizer: "glm-large")

    func reference() throws -> LoadedModel {
        _ = try GLMFixtures.path("models/glm-tiny-bert/model.safetensors")
        return try ModelFiles.load(tinyBert)
    }

    func assertSameWeights(_ a: LoadedModel, _ b: LoadedModel, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(a.weights.keys), Set(b.weights.keys), file: file, line: line)
        for (n, t) in a.weights {
            guard let u = b.weights[n] else { continue }
            XCTAssertTrue(t.bitwiseEqual(u), "\(n): \(t) vs \(u)", file: file, line: line)
        }
    }

    func testEveryFixtureLayoutLoadsIdenticalTensors() throws {
        let ref = try reference()
        XCTAssertEqual(ref.layout, .safetensors)
        XCTAssertEqual(ref.config.tokenizer, "glm-large")
        XCTAssertEqual(ref.config.numAttentionHeads, 4)
        XCTAssertEqual(ref.parameterCount, 1_012_672)
        XCTAssertEqual(ref.dtypeCounts, [.float32: 29])

        let hf = try ModelFiles.load(tinyBert + "/hf", options: ModelLoadOptions(tokenizer: "glm-large"))
        XCTAssertEqual(hf.layout, .torchBin)
        XCTAssertEqual(hf.configSource, tinyBert + "/hf/config.json")
        XCTAssertEqual(hf.config.tokenizer, "glm-large")
        assertSameWeights(ref, hf)

        let original = try ModelFiles.load(tinyBert + "/checkpoint", options: tinyOptions)
        XCTAssertEqual(original.layout, .trainingCheckpoint)
        XCTAssertEqual(original.iteration, 1000)
        XCTAssertEqual(original.modelParallelSize, 1)
        XCTAssertEqual(original.config.numLayers, 2)
        XCTAssertEqual(original.config.maxSequenceLength, 128)
        assertSameWeights(ref, original)

        let mp2 = try ModelFiles.load(tinyBert + "/checkpoint_MP2", options: tinyOptions)
        XCTAssertEqual(mp2.modelParallelSize, 2)
        XCTAssertEqual(mp2.config.vocabSize, 30592)
        XCTAssertTrue(mp2.provenance["word_embeddings.weight"]!.contains("merged from 2 model-parallel ranks"))
        assertSameWeights(ref, mp2)

        // A single rank file stands for its whole tag folder; the tag folder alone works too.
        let rankFile = try ModelFiles.load(tinyBert + "/checkpoint_MP2/1000/mp_rank_01_model_states.pt", options: tinyOptions)
        assertSameWeights(ref, rankFile)
        let tagFolder = try ModelFiles.load(tinyBert + "/checkpoint/1000", options: tinyOptions)
        assertSameWeights(ref, tagFolder)

        // The safetensors file directly, and the presets path: the chinese tiny model.
        let zh = try ModelFiles.load(try GLMFixtures.path("models/glm-tiny-chinese/model.safetensors"))
        XCTAssertEqual(zh.config.tokenizer, "glm-large-chinese")
        XCTAssertEqual(zh.weights["word_embeddings.weight"]?.shape, [50048, 32])
    }

    func testMissingHeadsAndTokenizerIsAClearError() throws {
        _ = try GLMFixtures.path("models/glm-tiny-bert/checkpoint")
        assertGLMError(.config, mentions: ["checkpoint", "no config.json", "attention head count and the tokenizer", "--preset NAME or --heads N --tokenizer PRESET"]) {
            try ModelFiles.load(tinyBert + "/checkpoint")
        }
        assertGLMError(.config, mentions: ["the tokenizer", "--heads N --tokenizer PRESET"]) {
            try ModelFiles.load(tinyBert + "/checkpoint", options: ModelLoadOptions(heads: 4))
        }
        assertGLMError(.config, mentions: ["preset glm-large has hidden size 1024", "checkpoint's is 32"]) {
            try ModelFiles.load(tinyBert + "/checkpoint", options: ModelLoadOptions(preset: "glm-large"))
        }
        assertGLMError(.config, mentions: ["unknown preset 'glm-huge'", "glm-10b-chinese"]) {
            try ModelFiles.load(tinyBert + "/checkpoint", options: ModelLoadOptions(preset: "glm-huge"))
        }
        assertGLMError(.config, mentions: ["config.json says 4 attention heads but --heads 8"]) {
            try ModelFiles.load(tinyBert + "/hf", options: ModelLoadOptions(heads: 8))
        }
    }

    func testPresetSuppliesHeadsAndTokenizerWhenShapesMatch() throws {
        // A checkpoint without config.json, shaped like glm-base but with 1 layer: the preset's heads
        // apply when the hidden size matches. (Small: hidden 768 with 1 layer and a 64-row vocab.)
        let dir = try GLMFixtures.scratch(self)
        var c = GLMPreset.named("glm-base")!.config
        c.numLayers = 1
        c.vocabSize = 128
        c.maxSequenceLength = 8
        let w = Dictionary(uniqueKeysWithValues: c.parameterSpecs.map { ($0.name, TensorData(float32: [Float](repeating: 0.5, count: $0.shape.reduce(1, *)), shape: $0.shape)) })
        try ModelWriter.saveTrainingCheckpoint(config: c, weights: w, to: dir + "/ck", modelParallel: 1, iteration: nil)
        try FileManager.default.removeItem(atPath: dir + "/ck/config.json")
        XCTAssertEqual(try String(contentsOfFile: dir + "/ck/latest", encoding: .utf8), "release\n")
        let m = try ModelFiles.load(dir + "/ck", options: ModelLoadOptions(preset: "glm-base"))
        XCTAssertEqual(m.config.numAttentionHeads, 12)
        XCTAssertEqual(m.config.tokenizer, "glm-base")
        XCTAssertEqual(m.iteration, 0)
    }

    func testHFPrefixShardedBinAndShardedSafetensors() throws {
        let ref = try reference()
        let dir = try GLMFixtures.scratch(self)
        // pytorch_model.bin with `glm.` prefixes, split over two files with an index.
        let ordered = ref.orderedWeights
        let half = ordered.count / 2
        let parts = [Array(ordered[..<half]), Array(ordered[half...])]
        var map: [String] = []
        for (i, part) in parts.enumerated() {
            let name = "pytorch_model-0000\(i + 1)-of-00002.bin"
            try TorchWriter.write(.orderedDict(part.map { ("glm." + $0.0, .tensor($0.1)) }), to: dir + "/" + name)
            map += part.map { "\"glm.\($0.0)\": \"\(name)\"" }
        }
        try "{\"metadata\": {}, \"weight_map\": {\(map.joined(separator: ","))}}".write(toFile: dir + "/pytorch_model.bin.index.json", atomically: true, encoding: .utf8)
        try ref.config.save(path: dir + "/config.json")
        let bin = try ModelFiles.load(dir)
        XCTAssertEqual(bin.layout, .shardedTorchBin)
        XCTAssertEqual(bin.files.count, 2)
        assertSameWeights(ref, bin)

        let stDir = dir + "/st"
        try ModelWriter.saveSafetensors(config: ref.config, weights: ref.weights, to: stDir, maxShardBytes: 1_000_000)
        let st = try ModelFiles.load(stDir)
        XCTAssertEqual(st.layout, .shardedSafetensors)
        XCTAssertGreaterThan(st.files.count, 1)
        assertSameWeights(ref, st)
    }

    /// original → safetensors → original MP=2 → merged: bit-exact, and the MP=2 files equal change_mp.py's.
    func testRoundTripOriginalSafetensorsMP2Merged() throws {
        let dir = try GLMFixtures.scratch(self)
        let original = try ModelFiles.load(tinyBert + "/checkpoint", options: tinyOptions)
        try ModelWriter.saveSafetensors(config: original.config, weights: original.weights, to: dir + "/st")
        let st = try ModelFiles.load(dir + "/st")
        XCTAssertEqual(st.config, original.config)
        assertSameWeights(original, st)

        try ModelWriter.saveTrainingCheckpoint(config: st.config, weights: st.weights, to: dir + "/mp2", modelParallel: 2, iteration: 1000)
        for r in 0..<2 {
            let mine = try TorchFile(path: dir + "/mp2/1000/mp_rank_0\(r)_model_states.pt")
            let theirs = try TorchFile(path: try GLMFixtures.path("models/glm-tiny-bert/checkpoint_MP2/1000/mp_rank_0\(r)_model_states.pt"))
            let a = try mine.stateDict(mine.root["module"]!, context: "module")
            let b = Dictionary(uniqueKeysWithValues: try theirs.stateDict(theirs.root["module"]!, context: "module"))
            XCTAssertEqual(a.count, b.count)
            for (n, t) in a { XCTAssertTrue(t.bitwiseEqual(b[n]!), "rank \(r) \(n)") }
            XCTAssertEqual(mine.root["iteration"]?.intValue, 1000)
        }
        XCTAssertEqual(try String(contentsOfFile: dir + "/mp2/latest_checkpointed_iteration.txt", encoding: .utf8), "1000\n")
        let merged = try ModelFiles.load(dir + "/mp2")
        XCTAssertEqual(merged.modelParallelSize, 2)
        XCTAssertEqual(merged.config, original.config)
        assertSameWeights(original, merged)

        // And four ways, without the config.json (heads from options).
        try ModelWriter.saveTrainingCheckpoint(config: st.config, weights: st.weights, to: dir + "/mp4", modelParallel: 4)
        try FileManager.default.removeItem(atPath: dir + "/mp4/config.json")
        let m4 = try ModelFiles.load(dir + "/mp4", options: tinyOptions)
        XCTAssertEqual(m4.modelParallelSize, 4)
        assertSameWeights(original, m4)
    }

    func testHalfPrecisionConversion() throws {
        let ref = try reference()
        let dir = try GLMFixtures.scratch(self)
        for dt in [StoredDType.bfloat16, .float16] {
            try ModelWriter.saveSafetensors(config: ref.config, weights: ref.weights, to: dir + "/\(dt)", dtype: dt)
            let m = try ModelFiles.load(dir + "/\(dt)")
            XCTAssertEqual(m.dtypeCounts, [dt: 29])
            XCTAssertEqual(m.config.torchDtype, dt == .bfloat16 ? "bfloat16" : "float16")
            var maxRel: Float = 0
            for (n, t) in ref.weights {
                let a = t.floats(), b = m.weights[n]!.floats()
                for (x, y) in zip(a, b) where abs(x) > 1e-3 { maxRel = max(maxRel, abs(x - y) / abs(x)) }
                XCTAssertTrue(m.weights[n]!.bitwiseEqual(t.converted(to: dt)), n)
            }
            XCTAssertLessThanOrEqual(maxRel, dt == .bfloat16 ? 1.0 / 256 : 1.0 / 2048) // half an ulp
            // The original layout keeps the dtype too (DeepSpeed fp16 checkpoints).
            try ModelWriter.saveTrainingCheckpoint(config: m.config, weights: m.weights, to: dir + "/ck-\(dt)", modelParallel: 2, iteration: 5)
            let back = try ModelFiles.load(dir + "/ck-\(dt)")
            assertSameWeights(m, back)
        }
    }

    func testShapeMissingAndUnexpectedKeysAreErrorsNamingThem() throws {
        let ref = try reference()
        let dir = try GLMFixtures.scratch(self)
        var cfg = ref.config
        cfg.maxSequenceLength = 256
        try ModelWriter.saveSafetensors(config: ref.config, weights: ref.weights, to: dir + "/a")
        try cfg.save(path: dir + "/a/config.json")
        assertGLMError(.shapeMismatch, mentions: ["model.safetensors", "'transformer.position_embeddings.weight'", "[129, 32]", "[257, 32]"]) {
            try ModelFiles.load(dir + "/a")
        }

        var missing = ref.orderedWeights
        missing.removeAll { $0.0 == "transformer.layers.1.mlp.dense_4h_to_h.bias" }
        try FileManager.default.createDirectory(atPath: dir + "/b", withIntermediateDirectories: true)
        try Safetensors.write(missing, to: dir + "/b/model.safetensors")
        try ref.config.save(path: dir + "/b/config.json")
        assertGLMError(.missingKey, mentions: [dir + "/b", "'transformer.layers.1.mlp.dense_4h_to_h.bias'"]) { try ModelFiles.load(dir + "/b") }

        let extra = ref.orderedWeights + [("lm_head.weight", TensorData(float32: [1, 2], shape: [2]))]
        try Safetensors.write(extra, to: dir + "/b/model.safetensors")
        assertGLMError(.unexpectedKey, mentions: ["model.safetensors", "'lm_head.weight'"]) { try ModelFiles.load(dir + "/b") }
    }

    /// DeepSpeed model_states files carry extra keys next to `module`; they are ignored.
    func testDeepSpeedExtraKeysAreIgnored() throws {
        let ref = try reference()
        let dir = try GLMFixtures.scratch(self)
        try FileManager.default.createDirectory(atPath: dir + "/ds/global_step5", withIntermediateDirectories: true)
        try "global_step5".write(toFile: dir + "/ds/latest", atomically: true, encoding: .utf8)
        try TorchWriter.write(.dict([("module", .orderedDict(ref.orderedWeights.map { ($0.0, .tensor($0.1)) })),
                                     ("optimizer", .none), ("lr_scheduler", .none), ("skipped_steps", .int(0)),
                                     ("global_steps", .int(5)), ("global_samples", .int(40)), ("dp_world_size", .int(8)),
                                     ("mp_world_size", .int(1)), ("iteration", .int(5)),
                                     ("client_lr_scheduler", .dict([("num_iters", .int(5)), ("warmup", .float(0.01))]))]),
                              to: dir + "/ds/global_step5/mp_rank_00_model_states.pt")
        let m = try ModelFiles.load(dir + "/ds", options: tinyOptions)
        XCTAssertEqual(m.iteration, 5)
        assertSameWeights(ref, m)
        // 'module' = None (a ZeRO-3 style file without weights) is a clear error.
        try TorchWriter.write(.dict([("module", .none), ("iteration", .int(5))]), to: dir + "/ds/global_step5/mp_rank_00_model_states.pt")
        assertGLMError(.missingKey, mentions: ["mp_rank_00_model_states.pt", "'module' is None"]) { try ModelFiles.load(dir + "/ds", options: tinyOptions) }
    }

    func testBrokenTrainingFoldersAreClearErrors() throws {
        let dir = try GLMFixtures.scratch(self)
        let fm = FileManager.default
        // Tracker pointing at a missing tag.
        try fm.createDirectory(atPath: dir + "/t", withIntermediateDirectories: true)
        try "2000".write(toFile: dir + "/t/latest_checkpointed_iteration.txt", atomically: true, encoding: .utf8)
        assertGLMError(.missingKey, mentions: ["/t/2000", "tag '2000'"]) { try ModelFiles.load(dir + "/t", options: tinyOptions) }
        // Only rank 1 of two.
        try fm.createDirectory(atPath: dir + "/t/2000", withIntermediateDirectories: true)
        try fm.copyItem(atPath: try GLMFixtures.path("models/glm-tiny-bert/checkpoint_MP2/1000/mp_rank_01_model_states.pt"),
                        toPath: dir + "/t/2000/mp_rank_01_model_states.pt")
        assertGLMError(.missingKey, mentions: ["ranks are not 0..0", "mp_rank_01_model_states.pt"]) { try ModelFiles.load(dir + "/t", options: tinyOptions) }
        // Nothing there at all.
        try fm.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        assertGLMError(.missingKey, mentions: ["/empty", "no model found"]) { try ModelFiles.load(dir + "/empty") }
        assertGLMError(.io, mentions: ["/nope", "no such file"]) { try ModelFiles.load(dir + "/nope") }
    }
}
