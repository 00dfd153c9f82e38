import Foundation
import GLM
import GLMCheckpoint
import GLMEngine

/// A P-tuned model's continuous prompts, saved NEXT TO the model in its folder as
/// `prompt_spell.safetensors`: the `PromptEncoder`'s tensors (`prompt_spell.*`, float32) and, in the
/// header's metadata, how the samples must be encoded (`prompt_func`, `continuous_prompt`,
/// `num_prompt_tokens`, `prefix_prompt`). `glm evaluate` reads it when present.
public enum PromptEncoderFile {
    public static let fileName = "prompt_spell.safetensors"

    public struct Contents {
        public var encoder: PromptEncoder
        public var continuousPrompt: Bool
        public var numPromptTokens: Int
        public var prefixPrompt: Int

        /// Sets the encoding settings the prompts were trained with.
        public func apply(to settings: inout SuperGLUESettings) {
            settings.continuousPrompt = continuousPrompt
            settings.numPromptTokens = numPromptTokens
            settings.prefixPrompt = prefixPrompt
        }
    }

    public static func save(_ encoder: PromptEncoder, continuousPrompt: Bool, numPromptTokens: Int, prefixPrompt: Int,
                            folder: String) throws {
        let tensors = encoder.stateDict.map { ($0.name, TensorData(float32: $0.tensor.toFloats(), shape: $0.tensor.shape)) }
        let metadata = ["format": "pt", "prompt_func": encoder.function.rawValue, "continuous_prompt": continuousPrompt ? "true" : "false",
                        "num_prompt_tokens": String(numPromptTokens), "prefix_prompt": String(prefixPrompt)]
        try Safetensors.write(tensors, to: folder + "/" + fileName, metadata: metadata)
    }

    /// nil when `folder` (a model folder) holds no prompt file.
    public static func load(folder: String) throws -> Contents? {
        let path = folder + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let file = try SafetensorsFile(path: path)
        let m = file.metadata
        guard let f = m["prompt_func"].flatMap(PromptFunction.init(rawValue:)), let n = m["num_prompt_tokens"].flatMap(Int.init),
              let prefix = m["prefix_prompt"].flatMap(Int.init) else {
            throw SuperGLUEError.configuration("\(path): metadata prompt_func / num_prompt_tokens / prefix_prompt missing or invalid")
        }
        let continuous = m["continuous_prompt"] == "true"
        var tensors: [String: Tensor] = [:]
        var hidden = 0
        for (name, data) in try file.tensors() {
            tensors[name] = try Tensor(shape: data.shape, values: data.floats())
            if name == PromptEncoder.prefix + "spell_embeddings.weight", data.shape.count == 2 { hidden = data.shape[1] }
        }
        let encoder = try PromptEncoder(function: f, length: (continuous ? n : 0) + prefix, hiddenSize: hidden)
        try encoder.load(tensors)
        return Contents(encoder: encoder, continuousPrompt: continuous, numPromptTokens: n, prefixPrompt: prefix)
    }
}
