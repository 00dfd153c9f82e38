import Foundation
import XCTest
import GLMSupport
@testable import GLMCheckpoint

/// Seeded random mutations of small valid files, fed to every reader: each input must either load (and
/// then all its tensors must materialise in bounds) or throw a `CheckpointError` — never crash or hang.
/// Iterations per reader: `GLM_FUZZ_ITERATIONS` (default 100_000: zip 11 s, pickle 7 s, safetensors 3 s in debug).
final class MutationFuzzTests: XCTestCase {
    static let iterations = Int(ProcessInfo.processInfo.environment["GLM_FUZZ_ITERATIONS"] ?? "") ?? 100_000

    struct SplitMix64 {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
    }

    static let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0xFE, 0x2E, 0x28, 0x52, 0x51, 0x63, 0x93, 0x5B, 0x7B, 0x22]

    func mutate(_ base: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = base
        for _ in 0..<(1 + rng.below(3)) {
            if b.isEmpty { b = [UInt8(truncatingIfNeeded: rng.next())]; continue }
            let at = rng.below(b.count)
            switch rng.below(8) {
            case 0: b[at] ^= UInt8(1 << rng.below(8))
            case 1: b[at] = MutationFuzzTests.interesting[rng.below(MutationFuzzTests.interesting.count)]
            case 2: b = Array(b[0..<at])
            case 3: b.insert(contentsOf: (0..<(1 + rng.below(8))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
            case 4: b.removeSubrange(at..<min(b.count, at + 1 + rng.below(16)))
            case 5: // a 32- or 64-bit field set to an extreme
                let width = rng.below(2) == 0 ? 4 : 8
                let v: UInt64 = [0, 0xFFFF_FFFF, 0xFFFF_FFFF_FFFF_FFFF, 1 << 31, UInt64(b.count), 0x7FFF_FFFF_FFFF_FFFF][rng.below(6)]
                for i in 0..<width where at + i < b.count { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
            case 6: // copy a chunk over another place
                let from = rng.below(b.count), n = min(1 + rng.below(32), b.count - from)
                let chunk = Array(b[from..<(from + n)])
                for i in 0..<n where at + i < b.count { b[at + i] = chunk[i] }
            default: b[at] = UInt8(truncatingIfNeeded: rng.next())
            }
        }
        return b
    }

    /// Touches every value of every tensor (catches views that were not bounds-checked).
    func consume(_ t: TensorData) -> Float { t.floats().reduce(0) { $0 + ($1.isFinite ? $1 : 0) } }

    func consume(_ v: PickleValue, _ f: TorchFile?, _ budget: inout Int) {
        budget -= 1
        if budget < 0 { return }
        switch v {
        case .tensor(let r): if let f { _ = (try? f.tensor(r, name: "t")).map(consume) }
        case .list(let a), .tuple(let a): for x in a { consume(x, f, &budget) }
        case .dict(let items): for (k, x) in items { consume(k, f, &budget); consume(x, f, &budget) }
        case .object(_, let a, let s): for x in a { consume(x, f, &budget) }; if let s { consume(s, f, &budget) }
        default: break
        }
    }

    func baseTorchFile() throws -> [UInt8] {
        let dir = try Fixtures.scratch(self)
        let path = dir + "/base.pt"
        try TorchWriter.write(.dict([("iteration", .int(7)), ("ok", .bool(true)), ("lr", .float(0.5)),
                                     ("module", .orderedDict([
                                        ("w", .tensor(TensorData(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3]))),
                                        ("b", .tensor(TensorData(float32: [0.5, -1], shape: [2]).converted(to: .bfloat16))),
                                        ("h", .tensor(TensorData(float32: [3], shape: []).converted(to: .float16)))]))]),
                              to: path)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func run(_ name: String, base: [UInt8], seed: UInt64, iterations: Int = MutationFuzzTests.iterations, _ body: ([UInt8]) -> Void) {
        var rng = SplitMix64(state: seed)
        let start = Date()
        for _ in 0..<iterations { body(mutate(base, &rng)) }
        print("fuzz \(name): \(iterations) mutants of a \(base.count)-byte input in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }

    func testTorchZipMutants() throws {
        let base = try baseTorchFile()
        var loaded = 0
        run("torch zip", base: base, seed: 1) { bytes in
            guard let f = try? TorchFile(file: MappedFile(bytes: bytes, name: "m.pt")) else { return }
            loaded += 1
            var budget = 10_000
            consume(f.root, f, &budget)
        }
        XCTAssertGreaterThan(loaded, 0)
    }

    /// The zip layer checks the pickle's CRC, so mutate the pickle itself and run it against the real
    /// storages of the base file: this is what a forged (CRC-consistent) file would reach.
    func testPickleMutants() throws {
        let base = try baseTorchFile()
        let good = try TorchFile(file: MappedFile(bytes: base, name: "base.pt"))
        let zip = try ZipArchive(file: MappedFile(bytes: base, name: "base.pt"))
        let pkl = Array(try zip.data(of: zip.entries[0]))
        var loaded = 0
        run("pickle", base: pkl, seed: 2) { bytes in
            guard let root = try? bytes.withUnsafeBytes({ try Unpickler.load($0, file: "m.pkl") }) else { return }
            loaded += 1
            let f = TorchFile(path: "m.pt", root: root, file: good.file, storages: good.storages)
            var budget = 10_000
            consume(root, f, &budget)
        }
        XCTAssertGreaterThan(loaded, 0)
    }

    /// The legacy (pre-1.6) stream: concatenated pickles + raw storages, written by real torch. A fifth
    /// of the iterations (about 8 s in debug): most mutants of this format parse deep before failing.
    func testLegacyTorchMutants() throws {
        var loaded = 0
        run("legacy torch", base: TorchWritten.legacy, seed: 4, iterations: MutationFuzzTests.iterations / 5) { bytes in
            guard let f = try? TorchFile(file: MappedFile(bytes: bytes, name: "m.pt")) else { return }
            loaded += 1
            var budget = 10_000
            consume(f.root, f, &budget)
        }
        XCTAssertGreaterThan(loaded, 0)
    }

    func testSafetensorsMutants() throws {
        let dir = try Fixtures.scratch(self)
        try Safetensors.write([("w", TensorData(float32: [1, 2, 3, 4, 5, 6], shape: [2, 3])),
                               ("b", TensorData(float32: [0.5, -1], shape: [2]).converted(to: .float16)),
                               ("i", TensorData(int64: [9], shape: [1]))], to: dir + "/b.safetensors")
        let base = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/b.safetensors")))
        var loaded = 0
        run("safetensors", base: base, seed: 3) { bytes in
            guard let f = try? SafetensorsFile(file: MappedFile(bytes: bytes, name: "m.safetensors")) else { return }
            loaded += 1
            for n in f.names { _ = (try? f.tensor(n)).map(consume) }
        }
        XCTAssertGreaterThan(loaded, 0)
    }
}
