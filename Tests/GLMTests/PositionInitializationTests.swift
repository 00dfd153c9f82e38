import GLMEngine
import XCTest
@testable import GLM

/// `GLMModel.random(..., positions: .sinusoidal)`: both position tables start as scaled sinusoids whose
/// row dot products depend on distance only; every other parameter is initialised as with `.normal`.
final class PositionInitializationTests: XCTestCase {
    func testSinusoidalTablesHaveTheNormalScaleAndDependOnDistanceOnly() throws {
        var config = GLMConfig(numLayers: 2, hiddenSize: 16, numAttentionHeads: 2, vocabSize: 64, maxSequenceLength: 32)
        config.initializerRange = 0.02
        let sin = try GLMModel.random(config: config, seed: 7, positions: .sinusoidal)
        let normal = try GLMModel.random(config: config, seed: 7)
        func values(_ m: GLMModel, _ name: String) throws -> [Float] {
            try XCTUnwrap(m.parameters.first { $0.name == name }, name).value.toFloats()
        }
        for name in ["transformer.position_embeddings.weight", "transformer.block_position_embeddings.weight"] {
            let t = try values(sin, name)
            let rows = 33, h = 16
            XCTAssertEqual(t.count, rows * h)
            let rms = (t.reduce(0) { $0 + Double($1) * Double($1) } / Double(t.count)).squareRoot()
            XCTAssertEqual(rms, 0.02, accuracy: 0.002, name)
            XCTAssertEqual(t[0], 0, accuracy: 1e-7)           // sin(0)
            XCTAssertEqual(t[1], Float(0.02 * 2.0.squareRoot()), accuracy: 1e-6)  // cos(0) · amplitude
            func dot(_ a: Int, _ b: Int) -> Double { (0..<h).reduce(0) { $0 + Double(t[a * h + $1]) * Double(t[b * h + $1]) } }
            XCTAssertEqual(dot(3, 5), dot(20, 22), accuracy: 1e-9, "same distance, same dot product")
            XCTAssertGreaterThan(dot(10, 11), dot(10, 20), "nearby rows are more alike")
        }
        let a = try values(sin, "transformer.layers.0.attention.query_key_value.weight")
        let b = try values(normal, "transformer.layers.0.attention.query_key_value.weight")
        XCTAssertEqual(a, b, "other parameters are untouched by the position choice")
    }
}
