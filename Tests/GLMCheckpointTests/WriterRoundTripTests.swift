import XCTest
import GLMSupport
@testable import GLMCheckpoint

final class WriterRoundTripTests: XCTestCase {
    func sample() -> [(String, TensorData)] {
        [("a.weight", TensorData(float32: (0..<12).map { Float($0) * 0.5 - 2 }, shape: [3, 4])),
         ("b.bias", TensorData(float32: [1.5, -0.25, .infinity], shape: [3])),
         ("scalar", TensorData(float32: [7], shape: [])),
         ("empty", TensorData(float32: [], shape: [0, 5])),
         ("ids", TensorData(int64: [1, -2, 1 << 40], shape: [3]))]
    }

    func testTorchWriterRoundTripsAndMatchesTorchLayout() throws {
        let dir = try Fixtures.scratch(self)
        let path = dir + "/mp_rank_00_model_states.pt"
        let tensors = sample()
        try TorchWriter.write(.dict([("iteration", .int(1000)),
                                     ("module", .orderedDict(tensors.map { ($0.0, .tensor($0.1)) }))]), to: path)
        let zip = try ZipArchive(path: path)
        XCTAssertEqual(zip.entries.first?.name, "mp_rank_00_model_states/data.pkl")
        XCTAssertEqual(zip.entries.last?.name, "mp_rank_00_model_states/version")
        for e in zip.entries {
            XCTAssertEqual(e.dataOffset % 64, 0, "\(e.name) not 64-byte aligned")
            _ = try zip.data(of: e, verify: true) // CRCs were patched correctly
        }
        let f = try TorchFile(path: path)
        XCTAssertEqual(f.root["iteration"]?.intValue, 1000)
        let back = try f.stateDict(f.root["module"]!, context: "module")
        XCTAssertEqual(back.map(\.0), tensors.map(\.0))
        for ((_, a), (_, b)) in Swift.zip(back, tensors) { XCTAssertTrue(a.bitwiseEqual(b), "\(a) vs \(b)") }
        // The pickle uses exactly the opcodes/globals of the torch-written fixture (same reader path).
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/.mp_rank_00_model_states.pt.tmp"))
    }

    func testZip64StructuresAreReadBack() throws {
        let dir = try Fixtures.scratch(self)
        let path = dir + "/z.pt"
        let tensors = sample()
        try TorchWriter.write(.orderedDict(tensors.map { ($0.0, .tensor($0.1)) }), to: path, forceZip64: true)
        let f = try TorchFile(path: path)
        let back = try f.stateDict(f.root, context: "root")
        for ((_, a), (_, b)) in Swift.zip(back, tensors) { XCTAssertTrue(a.bitwiseEqual(b)) }
    }

    func testDtypeConversionOnWrite() throws {
        let dir = try Fixtures.scratch(self)
        let values: [Float] = [1, -2.5, 65504, 1e-8, 3.14159265, -0.0]
        let t = TensorData(float32: values, shape: [6])
        for dt in [StoredDType.float16, .bfloat16] {
            try Safetensors.write([("x", t)], to: dir + "/x.safetensors", dtype: dt)
            let back = try SafetensorsFile(path: dir + "/x.safetensors").tensor("x")
            XCTAssertEqual(back.dtype, dt)
            let f = back.floats()
            for (a, b) in zip(f, values) { XCTAssertEqual(a, b, accuracy: abs(b) * (dt == .float16 ? 1e-3 : 8e-3) + 6e-8) }
            // Converting back to the same dtype is bit-exact.
            XCTAssertTrue(back.converted(to: .float32).converted(to: dt).bitwiseEqual(back))
        }
        // Known bit patterns: round-to-nearest-even of 1 + 2^-11 (tie) stays 1.0 in f16; bf16 of 1 + 2^-8 stays 1.0.
        XCTAssertEqual(FloatBits.floatToHalf(1 + 1.0 / 2048), 0x3C00)
        XCTAssertEqual(FloatBits.floatToHalf(1 + 3.0 / 2048), 0x3C02)
        XCTAssertEqual(FloatBits.floatToBfloat(1 + 1.0 / 256), 0x3F80)
        XCTAssertEqual(FloatBits.floatToBfloat(1 + 3.0 / 256), 0x3F82)
        XCTAssertEqual(FloatBits.halfToFloat(0x0001), 5.960464477539063e-08)
        XCTAssertEqual(FloatBits.floatToHalf(5.960464477539063e-08), 0x0001)
        XCTAssertEqual(FloatBits.floatToHalf(70000), 0x7C00)
    }

    func testSafetensorsRoundTripSingleAndSharded() throws {
        let dir = try Fixtures.scratch(self)
        let tensors = sample()
        try Safetensors.write(tensors, to: dir + "/m.safetensors")
        let st = try SafetensorsFile(path: dir + "/m.safetensors")
        XCTAssertEqual(st.metadata["format"], "pt")
        XCTAssertEqual(st.names.filter { $0 != "empty" && $0 != "scalar" }, ["a.weight", "b.bias", "ids"])
        for (n, t) in tensors { XCTAssertTrue(try st.tensor(n).bitwiseEqual(t), n) }

        let files = try Safetensors.writeSharded(tensors, folder: dir, maxShardBytes: 40)
        XCTAssertGreaterThan(files.count, 1)
        let index = try WeightIndex(path: dir + "/model.safetensors.index.json")
        XCTAssertEqual(Set(index.weightMap.map(\.0)), Set(tensors.map(\.0)))
        XCTAssertEqual(index.files, files)
        for (name, fileName) in index.weightMap {
            let t = try SafetensorsFile(path: dir + "/" + fileName).tensor(name)
            XCTAssertTrue(t.bitwiseEqual(tensors.first { $0.0 == name }!.1))
        }
    }

    func testAtomicWriterLeavesTargetUntouchedOnAbort() throws {
        let dir = try Fixtures.scratch(self)
        let path = dir + "/f.txt"
        try AtomicFileWriter.write(Array("old".utf8), to: path)
        do {
            let w = try AtomicFileWriter(path: path)
            try w.write(Array("new and partial".utf8))
            w.abort()
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f.txt"])
    }

    func testLegacyFormatIsRead() throws {
        // Built by hand exactly as torch < 1.6 `_legacy_save` lays it out (protocol 2).
        var p = PickleWriter()
        var bytes: [UInt8] = [0x80, 0x02] + LegacyTorchFormat.magicBody
        p.proto(); p.int(1001); p.stop(); bytes += p.bytes
        p = PickleWriter(); p.proto(); p.bytes.append(0x7D); p.mark(); p.string("little_endian"); p.bytes.append(0x88)
        p.bytes.append(0x75); p.stop(); bytes += p.bytes
        // {'w': tensor} with persistent id ('storage', FloatStorage, '94', 'cpu', 4, None)
        p = PickleWriter(); p.proto(); p.bytes.append(0x7D); p.mark(); p.string("w")
        p.global("torch._utils", "_rebuild_tensor_v2"); p.mark(); p.mark()
        p.string("storage"); p.global("torch", "FloatStorage"); p.string("94"); p.string("cpu"); p.int(4); p.bytes.append(0x4E)
        p.bytes += [0x74, 0x51]; p.int(1); p.intTuple([3]); p.intTuple([1]); p.bytes.append(0x89)
        p.global("collections", "OrderedDict"); p.bytes += [0x29, 0x52, 0x74, 0x52, 0x75]; p.stop(); bytes += p.bytes
        p = PickleWriter(); p.proto(); p.bytes.append(0x5D); p.mark(); p.string("94"); p.bytes.append(0x65); p.stop(); bytes += p.bytes
        var w = ByteWriter(); w.u64(4)
        bytes += w.bytes
        for v: Float in [10, 11, 12, 13] { withUnsafeBytes(of: v) { bytes += $0 } }
        let f = try TorchFile(file: MappedFile(bytes: bytes, name: "legacy.pt"))
        guard case .tensor(let ref)? = f.root["w"] else { return XCTFail("no tensor") }
        XCTAssertEqual(try f.tensor(ref, name: "w").floats(), [11, 12, 13])
        // Cut into the storage: a clear truncation error, not a crash.
        assertCheckpointError(.outOfBounds, mentions: ["legacy.pt", "legacy storage '94'"]) {
            try TorchFile(file: MappedFile(bytes: Array(bytes.dropLast(3)), name: "legacy.pt"))
        }
    }
}
