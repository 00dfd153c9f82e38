import GLMCheckpoint
import GLMEngine
import GLM
import XCTest

/// --checkpoint-activations: recomputing each layer in backward gives the same loss and gradients as
/// keeping the activations — with all three dropouts active (same masks in both runs).
final class RecomputeTests: XCTestCase {
    func lossAndGradients(_ model: GLMModel, _ j: [String: Any]) throws -> (Float, [[Float]]) {
        let ids = try intTensor(j["text"]), pos = try intTensor(j["position_id"]), targets = try intTensor(j["target"])
        let (lm, shape) = flatInts(j["loss_mask"])
        let tape = Tape(recording: true, training: true, dropoutSeed: 1234)
        for p in model.parameters { p.zeroGrad() }
        let out = try model.forward(ids: ids, positionIds: pos, mask: .sep(flatInts(j["attention_mask"]).values.map(Int.init)), tape: tape)
        let ce = try tape.crossEntropy(out.logits!, targets: targets, lossMask: try Tensor(shape: shape, values: lm.map(Float.init)))
        try tape.backward(ce.loss)
        return (ce.loss.value.scalarValue, model.parameters.map { $0.gradient.toFloats() })
    }

    func testRecomputationMatchesStoredActivations() throws {
        let j = try Fixtures.json("train/glm-tiny-bert-loss.json")
        let file = try Fixtures.safetensors("models/glm-tiny-bert/model.safetensors")
        var sd: StateDict = [:]
        for (k, v) in try file.tensors() { sd[k] = v }
        var config = Fixtures.tinyConfig(vocab: 30592)
        config.embeddingDropoutProb = 0.1; config.attentionDropoutProb = 0.1; config.outputDropoutProb = 0.1
        let plain = try GLMModel(config: config, stateDict: sd)
        config.checkpointActivations = true
        let recomputed = try GLMModel(config: config, stateDict: sd)
        let (l1, g1) = try lossAndGradients(plain, j)
        let (l2, g2) = try lossAndGradients(recomputed, j)
        XCTAssertEqual(l1, l2, "same forward, same dropout masks")
        var worst: Float = 0
        for (a, b) in zip(g1, g2) { worst = max(worst, maxAbsDiff(a, b)) }
        XCTAssertLessThanOrEqual(worst, 1e-6, "gradients with and without recomputation")
        print("[recompute] loss \(l1) vs \(l2), max gradient diff \(worst)")
    }
}
