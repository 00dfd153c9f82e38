import XCTest
import GLMSupport
@testable import GLMCheckpoint

final class TorchFileTests: XCTestCase {
    func reference() throws -> [String: TensorData] {
        let st = try SafetensorsFile(path: try Fixtures.path("models/glm-tiny-bert/model.safetensors"))
        return Dictionary(uniqueKeysWithValues: try st.tensors())
    }

    func testOriginalCheckpointMatchesSafetensorsBitExact() throws {
        let ref = try reference()
        XCTAssertEqual(ref.count, 29) // 3 embeddings + 12 per layer × 2 + final LayerNorm (2)
        let f = try TorchFile(path: try Fixtures.path("models/glm-tiny-bert/checkpoint/1000/mp_rank_00_model_states.pt"))
        XCTAssertEqual(f.root["iteration"]?.intValue, 1000)
        let module = try XCTUnwrap(f.root["module"])
        let sd = try f.stateDict(module, context: "module")
        XCTAssertEqual(sd.count, 29)
        XCTAssertEqual(sd.first?.0, "word_embeddings.weight")
        for (name, t) in sd {
            let r = try XCTUnwrap(ref[name], name)
            XCTAssertTrue(t.bitwiseEqual(r), "\(name) differs: \(t) vs \(r)")
        }
        XCTAssertEqual(sd.first?.1.shape, [30592, 32])
    }

    func testHFBinHasSameTensors() throws {
        let ref = try reference()
        let f = try TorchFile(path: try Fixtures.path("models/glm-tiny-bert/hf/pytorch_model.bin"))
        let sd = try f.stateDict(f.root, context: "state dict")
        XCTAssertEqual(Set(sd.map(\.0)), Set(ref.keys))
        for (name, t) in sd { XCTAssertTrue(t.bitwiseEqual(ref[name]!), name) }
    }

    /// The fixture's MP=2 files are change_mp.py's output: our split must reproduce them byte for byte,
    /// and our merge must give back the MP=1 tensors.
    func testModelParallelSplitAndMergeMatchChangeMp() throws {
        let ref = try reference()
        var ranks: [[String: TensorData]] = []
        var files: [String] = []
        for r in 0..<2 {
            let p = try Fixtures.path("models/glm-tiny-bert/checkpoint_MP2/1000/mp_rank_0\(r)_model_states.pt")
            let f = try TorchFile(path: p)
            XCTAssertEqual(f.root["iteration"]?.intValue, 1000)
            ranks.append(Dictionary(uniqueKeysWithValues: try f.stateDict(f.root["module"]!, context: "module")))
            files.append(p)
        }
        var splitCount = 0
        for (name, full) in ref {
            let parts = ranks.map { $0[name]! }
            for r in 0..<2 {
                let mine = try ModelParallel.split(full, name: name, rank: r, of: 2, file: "test")
                XCTAssertTrue(mine.bitwiseEqual(parts[r]), "split of \(name) rank \(r): \(mine) vs \(parts[r])")
            }
            if parts[0].shape != full.shape { splitCount += 1 }
            let merged = try ModelParallel.merge(parts, name: name, files: files)
            XCTAssertTrue(merged.bitwiseEqual(full), "merge of \(name)")
        }
        // word embeddings + per layer (qkv w, qkv b, dense w, h_to_4h w, h_to_4h b, 4h_to_h w) × 2 layers
        XCTAssertEqual(splitCount, 1 + 6 * 2)
        XCTAssertEqual(ranks[0]["transformer.layers.0.attention.query_key_value.weight"]?.shape, [48, 32])
        XCTAssertEqual(ranks[1]["transformer.layers.0.attention.dense.weight"]?.shape, [32, 16])
    }

    func testMergeOfFourWayIsInverseOfSplit() throws {
        let ref = try reference()
        for (name, full) in ref {
            let parts = try (0..<4).map { try ModelParallel.split(full, name: name, rank: $0, of: 4, file: "t") }
            let merged = try ModelParallel.merge(parts, name: name, files: ["a", "b", "c", "d"])
            XCTAssertTrue(merged.bitwiseEqual(full), name)
        }
    }

    func testSplitRefusesIndivisible() {
        let t = TensorData(float32: [Float](repeating: 1, count: 9 * 2), shape: [9, 2])
        assertCheckpointError(.shapeMismatch, mentions: ["word_embeddings.weight", "cannot be split"]) {
            try ModelParallel.split(t, name: "word_embeddings.weight", rank: 0, of: 2, file: "x")
        }
    }

    func testNonContiguousStridesAreGathered() throws {
        // A [2, 3] view with stride (1, 2) over a 6-element storage is the transpose of [[0,1],[2,3],[4,5]].
        let dir = try Fixtures.scratch(self)
        let storage = TensorData(float32: [0, 1, 2, 3, 4, 5], shape: [6])
        let path = dir + "/t.pt"
        try TorchWriter.write(.orderedDict([("x", .tensor(storage))]), to: path)
        let f = try TorchFile(path: path)
        guard case .tensor(let ref)? = f.root["x"] else { return XCTFail("no tensor") }
        let view = TensorRef(storage: ref.storage, offset: 0, shape: [2, 3], stride: [1, 2])
        XCTAssertEqual(try f.tensor(view, name: "x.T").floats(), [0, 2, 4, 1, 3, 5])
        let offsetView = TensorRef(storage: ref.storage, offset: 1, shape: [2, 2], stride: [2, 1])
        XCTAssertEqual(try f.tensor(offsetView, name: "x[1:]").floats(), [1, 2, 3, 4])
    }
}

/// Files written by real PyTorch (see TorchWrittenFiles.swift): zip (torch 2.x), legacy, protocol 4.
final class TorchInteropTests: XCTestCase {
    let expected: [String: ([Int], [Float], StoredDType)] = [
        "t": ([6, 4], (0..<6).flatMap { c in (0..<4).map { r in Float(r * 6 + c) } }, .float32),
        "s": ([2, 3], [8, 9, 10, 14, 15, 16], .float32),
        "h": ([3, 5], (0..<15).map { Float($0) * 0.25 - 2 }, .float16),
        "b": ([7], (0..<7).map { Float($0) * 0.5 - 1 }, .bfloat16),
        "i": ([3], [1, -2, 3], .int64),
        "p": ([2, 2], [1, 1, 1, 1], .float32),
    ]

    func check(_ bytes: [UInt8], name: String, module: Bool) throws -> TorchFile {
        let f = try TorchFile(file: MappedFile(bytes: bytes, name: name))
        let sd = try f.stateDict(module ? f.root["module"]! : f.root, context: "sd")
        XCTAssertEqual(sd.map(\.0), ["t", "s", "h", "b", "i", "p"], name)
        for (k, t) in sd {
            let (shape, values, dtype) = expected[k]!
            XCTAssertEqual(t.shape, shape, "\(name) \(k)")
            XCTAssertEqual(t.dtype, dtype, "\(name) \(k)")
            XCTAssertEqual(t.floats(), values, "\(name) \(k)")
        }
        return f
    }

    func testZipWrittenByTorch2WithDeepSpeedStyleExtras() throws {
        let f = try check(TorchWritten.zipTorch2, name: "zip-torch2.pt", module: true)
        XCTAssertEqual(f.root["iteration"]?.intValue, 3)
        guard case .object(let type, _, let state?)? = f.root["args"] else { return XCTFail("args not an inert object") }
        XCTAssertEqual(type, "argparse.Namespace")
        guard case .float(let lr)? = state["lr"] else { return XCTFail("no lr") }
        XCTAssertEqual(lr, 0.1)
        guard case .list(let skipped)? = f.root["skipped"] else { return XCTFail("set not read as list") }
        XCTAssertEqual(skipped.compactMap(\.intValue), [1, 2])
    }

    func testLegacyFormatWrittenByTorch() throws {
        let f = try check(TorchWritten.legacy, name: "legacy.pt", module: true)
        XCTAssertEqual(f.root["iteration"]?.intValue, 3)
    }

    func testProtocol4WrittenByTorch() throws {
        _ = try check(TorchWritten.protocol4, name: "protocol4.pt", module: false)
    }
}
