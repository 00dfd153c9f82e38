import GLMCheckpoint
import GLMEngine
import Foundation
import GLM
import XCTest
import GLMTestSupport

/// Where the reference fixtures live: <package root>/../shared/fixtures/glm-reference (read in place).
enum Fixtures {
    static let root: URL = ReferenceFixtures.root

    struct FixtureMissing: Error, CustomStringConvertible {
        let path: String
        var description: String { "reference fixture missing: \(path) (expected ../shared/fixtures beside the package)" }
    }

    static func json(_ relative: String) throws -> [String: Any] {
        let p = try require(relative)
        let data = try Data(contentsOf: URL(fileURLWithPath: p))
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FixtureMissing(path: p + " (not a JSON object)")
        }
        return obj
    }

    /// Fails (never skips) when a fixture is missing: parity that was not checked must not look green.
    static func require(_ relative: String) throws -> String {
        let p = root.appendingPathComponent(relative).path
        guard FileManager.default.fileExists(atPath: p) else { throw FixtureMissing(path: p) }
        return p
    }

    static func safetensors(_ relative: String) throws -> SafetensorsFile {
        try SafetensorsFile(path: try require(relative))
    }

    /// The tiny model's config (2 layers, hidden 32, 4 heads, max_sequence_length 128) with its padded vocab.
    static func tinyConfig(vocab: Int) -> GLMConfig {
        GLMConfig(numLayers: 2, hiddenSize: 32, numAttentionHeads: 4, vocabSize: vocab, maxSequenceLength: 128)
    }

    static func tinyModel(_ name: String) throws -> GLMModel {
        let file = try safetensors("models/\(name)/model.safetensors")
        var sd: StateDict = [:]
        for (k, v) in try file.tensors() { sd[k] = v }
        let vocab = sd["word_embeddings.weight"]!.shape[0]
        return try GLMModel(config: tinyConfig(vocab: vocab), stateDict: sd)
    }
}

/// JSON helpers: nested integer arrays → flat Int32 with shape.
func flatInts(_ any: Any?) -> (values: [Int32], shape: [Int]) {
    var values: [Int32] = []
    var shape: [Int] = []
    func walk(_ x: Any, depth: Int) {
        if let a = x as? [Any] {
            if shape.count == depth { shape.append(a.count) }
            for e in a { walk(e, depth: depth + 1) }
        } else if let n = x as? NSNumber {
            values.append(Int32(truncating: n))
        }
    }
    if let any { walk(any, depth: 0) }
    return (values, shape)
}

func intTensor(_ any: Any?) throws -> Tensor {
    let (v, s) = flatInts(any)
    return try Tensor(shape: s, ints: v)
}

/// Max |a − b| over two float arrays of equal length.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "length \(a.count) vs \(b.count)")
    var m: Float = 0
    for i in a.indices { m = max(m, abs(a[i] - b[i])) }
    return m
}
