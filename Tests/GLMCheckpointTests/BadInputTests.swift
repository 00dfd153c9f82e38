import XCTest
import GLMSupport
@testable import GLMCheckpoint

/// Hostile or damaged files: each must give a `CheckpointError` naming the file and the problem.
final class BadInputTests: XCTestCase {
    /// A torch zip whose data.pkl is `pickle` and which holds `storages` as data/0, data/1, ...
    func torchZip(pickle: [UInt8], storages: [[UInt8]] = [], name: String = "evil.pt") throws -> MappedFile {
        let dir = try Fixtures.scratch(self)
        let path = dir + "/" + name
        let out = try AtomicFileWriter(path: path)
        let z = ZipWriter(out)
        try z.addEntry(name: "evil/data.pkl", bytes: pickle)
        for (i, s) in storages.enumerated() { try z.addEntry(name: "evil/data/\(i)", bytes: s) }
        try z.addEntry(name: "evil/version", bytes: Array("3\n".utf8))
        try z.finish()
        try out.commit()
        return try MappedFile(path: path)
    }

    func fixtureBytes(_ rel: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: try Fixtures.path(rel))))
    }

    func testTruncatedZip() throws {
        let b = try fixtureBytes("models/glm-tiny-bert/checkpoint/1000/mp_rank_00_model_states.pt")
        for cut in [b.count / 2, b.count - 10, 100] {
            assertCheckpointError(.truncated, mentions: ["cut.pt", "end-of-central-directory"]) {
                try TorchFile(file: MappedFile(bytes: Array(b[0..<cut]), name: "cut.pt"))
            }
        }
    }

    func testTruncatedZipWithIntactDirectoryPointsPastEnd() throws {
        // Keep the tail (central directory + EOCD) but drop bytes from the middle: entries now point past the data.
        let b = try fixtureBytes("models/glm-tiny-bert/checkpoint/1000/mp_rank_00_model_states.pt")
        let tailStart = b.count - 4000
        let damaged = Array(b[0..<200_000]) + Array(b[tailStart...])
        XCTAssertThrowsError(try TorchFile(file: MappedFile(bytes: damaged, name: "holey.pt"))) { e in
            let ce = e as? CheckpointError
            XCTAssertNotNil(ce)
            XCTAssertTrue(ce?.description.contains("holey.pt") ?? false, "\(e)")
        }
    }

    func testWrongMagic() {
        assertCheckpointError(.badMagic, mentions: ["x.pt", "not a torch checkpoint"]) {
            try TorchFile(file: MappedFile(bytes: Array("GARBAGE, not a checkpoint at all".utf8), name: "x.pt"))
        }
        assertCheckpointError(.badMagic, mentions: ["x.zip", "not a zip"]) {
            try ZipArchive(file: MappedFile(bytes: [UInt8](repeating: 7, count: 64), name: "x.zip"))
        }
        assertCheckpointError(.badMagic, mentions: ["x.safetensors", "not a safetensors"]) {
            var w = ByteWriter(); w.u64(4); w.append(Array("[1] ".utf8))
            return try SafetensorsFile(file: MappedFile(bytes: w.bytes, name: "x.safetensors"))
        }
    }

    func testPickleCallingOsSystemIsRefused() throws {
        // cos\nsystem\n + ('echo pwned',) + REDUCE — the classic pickle exploit, protocol 2.
        var p = PickleWriter()
        p.proto(); p.global("os", "system"); p.string("echo pwned"); p.bytes += [0x85, 0x52, 0x2E]
        let f = try torchZip(pickle: p.bytes)
        assertCheckpointError(.forbidden, mentions: ["evil.pt", "evil/data.pkl", "'os.system'", "allow-list"]) {
            try TorchFile(file: f)
        }
    }

    func testPickleCallingBuiltinsEvalViaStackGlobalIsRefused() throws {
        // Protocol 4 style: SHORT_BINUNICODE 'builtins', SHORT_BINUNICODE 'eval', STACK_GLOBAL.
        var bytes: [UInt8] = [0x80, 0x04, 0x95, 40, 0, 0, 0, 0, 0, 0, 0]
        for s in ["builtins", "eval", "__import__('os').system('id')"] {
            bytes += [0x8C, UInt8(s.utf8.count)] + Array(s.utf8)
            if s == "eval" { bytes.append(0x93) }
        }
        bytes += [0x85, 0x52, 0x2E]
        let f = try torchZip(pickle: bytes)
        assertCheckpointError(.forbidden, mentions: ["evil.pt", "'builtins.eval'"]) { try TorchFile(file: f) }
    }

    func testAllowedGlobalMayNotBeCalledAsSomethingElse() throws {
        // torch.FloatStorage is allowed only as a type tag inside a persistent id.
        var p = PickleWriter()
        p.proto(); p.global("torch", "FloatStorage"); p.bytes += [0x29, 0x52, 0x2E]
        assertCheckpointError(.forbidden, mentions: ["mem.pkl", "torch.FloatStorage", "may not be called"]) {
            try p.bytes.withUnsafeBytes { try Unpickler.load($0, file: "mem.pkl") }
        }
    }

    func testUnknownOpcode() throws {
        let f = try torchZip(pickle: [0x80, 0x02, 0x7D, 0xFF, 0x2E])
        assertCheckpointError(.forbidden, mentions: ["evil.pt", "opcode 0xff", "pickle byte 3"]) { try TorchFile(file: f) }
        // INST (text-protocol object construction) is a real opcode, but never needed: refused too.
        assertCheckpointError(.forbidden, mentions: ["opcode 0x69"]) {
            try [UInt8]([0x80, 0x02, 0x69]).withUnsafeBytes { try Unpickler.load($0, file: "m") }
        }
    }

    /// `{'w': _rebuild_tensor_v2(storage('0', 6 floats), offset, size, stride, False, OrderedDict())}`
    func tensorPickle(numel: Int, offset: Int, size: [Int], stride: [Int]) -> [UInt8] {
        var p = PickleWriter()
        p.proto(); p.bytes.append(0x7D); p.mark(); p.string("w")
        p.global("torch._utils", "_rebuild_tensor_v2"); p.mark(); p.mark()
        p.string("storage"); p.global("torch", "FloatStorage"); p.string("0"); p.string("cpu"); p.int(numel)
        p.bytes += [0x74, 0x51]; p.int(offset); p.intTuple(size); p.intTuple(stride); p.bytes.append(0x89)
        p.global("collections", "OrderedDict"); p.bytes += [0x29, 0x52, 0x74, 0x52, 0x75]; p.stop()
        return p.bytes
    }

    func testStorageOffsetPastTheEnd() throws {
        let storage = [UInt8](repeating: 0, count: 24) // 6 floats
        let f = try torchZip(pickle: tensorPickle(numel: 6, offset: 4, size: [3], stride: [1]), storages: [storage])
        let t = try TorchFile(file: f)
        guard case .tensor(let ref)? = t.root["w"] else { return XCTFail() }
        assertCheckpointError(.outOfBounds, mentions: ["evil.pt", "tensor 'w'", "storage offset 4", "past the end of storage '0'"]) {
            try t.tensor(ref, name: "w")
        }
        // A storage that claims more elements than its zip entry holds.
        let g = try torchZip(pickle: tensorPickle(numel: 100, offset: 0, size: [6], stride: [1]), storages: [storage])
        let t2 = try TorchFile(file: g)
        guard case .tensor(let ref2)? = t2.root["w"] else { return XCTFail() }
        assertCheckpointError(.outOfBounds, mentions: ["evil.pt", "claims 100 elements", "holds 24 bytes"]) { try t2.tensor(ref2, name: "w") }
        // Strides that reach past the end, and negative ones.
        let h = try torchZip(pickle: tensorPickle(numel: 6, offset: 0, size: [2, 3], stride: [3, 2]), storages: [storage])
        let t3 = try TorchFile(file: h)
        guard case .tensor(let ref3)? = t3.root["w"] else { return XCTFail() }
        assertCheckpointError(.outOfBounds, mentions: ["stride [3, 2]", "reaches element 7"]) { try t3.tensor(ref3, name: "w") }
        let bad = TensorRef(storage: ref3.storage, offset: 0, shape: [2], stride: [-1])
        assertCheckpointError(.outOfBounds, mentions: ["negative"]) { try t3.tensor(bad, name: "w") }
        let huge = TensorRef(storage: ref3.storage, offset: 0, shape: [Int.max / 2, 4], stride: [1, 1])
        assertCheckpointError(.outOfBounds, mentions: ["tensor 'w'"]) { try t3.tensor(huge, name: "w") }
    }

    func testHostileNestingAndSharingAreBounded() {
        // 100k nested EMPTY_LIST+APPEND would recurse; 60 doublings of a shared list would unfold to 2^60.
        var deep: [UInt8] = [0x80, 0x02]
        for _ in 0..<5000 { deep += [0x5D] }
        for _ in 0..<4999 { deep += [0x61] }
        deep.append(0x2E)
        assertCheckpointError(.malformed, mentions: ["deeper than"]) { try deep.withUnsafeBytes { try Unpickler.load($0, file: "deep") } }
        var wide: [UInt8] = [0x80, 0x02, 0x5D]
        for _ in 0..<60 { wide += [0x32, 0x86] } // DUP, TUPLE2 → (x, x)
        wide.append(0x2E)
        assertCheckpointError(.malformed, mentions: ["too many nodes"]) { try wide.withUnsafeBytes { try Unpickler.load($0, file: "wide") } }
    }

    func safetensors(header: String, data: Int) -> MappedFile {
        var w = ByteWriter()
        w.u64(UInt64(header.utf8.count))
        w.append(Array(header.utf8))
        w.append([UInt8](repeating: 0, count: data))
        return MappedFile(bytes: w.bytes, name: "lie.safetensors")
    }

    func testSafetensorsHeaderThatLies() {
        assertCheckpointError(.malformed, mentions: ["lie.safetensors", "'a'", "'b'", "overlap"]) {
            try SafetensorsFile(file: safetensors(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, data: 16))
        }
        assertCheckpointError(.outOfBounds, mentions: ["lie.safetensors", "'a'", "outside the data section"]) {
            try SafetensorsFile(file: safetensors(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 8))
        }
        assertCheckpointError(.shapeMismatch, mentions: ["lie.safetensors", "'a'", "do not hold F32 shape [3]"]) {
            try SafetensorsFile(file: safetensors(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, data: 16))
        }
        assertCheckpointError(.malformed, mentions: ["lie.safetensors", "negative"]) {
            try SafetensorsFile(file: safetensors(header: #"{"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}}"#, data: 16))
        }
        assertCheckpointError(.unsupported, mentions: ["'a'", "unknown dtype"]) {
            try SafetensorsFile(file: safetensors(header: #"{"a":{"dtype":"Q7","shape":[4],"data_offsets":[0,16]}}"#, data: 16))
        }
        // Absurd header size: 2^40 bytes.
        var w = ByteWriter(); w.u64(1 << 40); w.append(Array("{}".utf8))
        assertCheckpointError(.malformed, mentions: ["lie.safetensors", "header length 1099511627776 is absurd"]) {
            try SafetensorsFile(file: MappedFile(bytes: w.bytes, name: "lie.safetensors"))
        }
        // Plausible size, but larger than the file.
        var v = ByteWriter(); v.u64(1000); v.append(Array("{}".utf8))
        assertCheckpointError(.truncated, mentions: ["lie.safetensors", "exceeds the file"]) {
            try SafetensorsFile(file: MappedFile(bytes: v.bytes, name: "lie.safetensors"))
        }
        assertCheckpointError(.malformed, mentions: ["nested deeper"]) {
            try SafetensorsFile(file: safetensors(header: "{\"a\":" + String(repeating: "[", count: 10000), data: 0))
        }
    }

    func testCompressedZipEntryIsRefusedClearly() throws {
        // Flip the method field of data.pkl's central directory record from 0 (stored) to 8 (deflate).
        var b = try fixtureBytes("models/glm-tiny-bert/hf/pytorch_model.bin")
        let cdSig: [UInt8] = [0x50, 0x4B, 0x01, 0x02]
        let at = (0..<(b.count - 4)).first { Array(b[$0..<($0 + 4)]) == cdSig }!
        b[at + 10] = 8
        assertCheckpointError(.unsupported, mentions: ["deflated.bin", "compressed (method 8)"]) {
            try TorchFile(file: MappedFile(bytes: b, name: "deflated.bin"))
        }
    }
}

import Foundation
