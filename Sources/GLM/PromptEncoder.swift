import Foundation
import GLMEngine

/// The original's `--prompt-func`: how the trainable prompt embeddings become the prompt rows.
public enum PromptFunction: String, Sendable, CaseIterable, Codable {
    /// Two-layer bidirectional LSTM + MLP (the original's default). NOT IMPLEMENTED here yet.
    case lstm
    /// Linear(h, h) → ReLU → Linear(h, h).
    case mlp
    /// The embeddings as they are.
    case none
}

/// Continuous prompts (P-tuning) as the original's `model/prompt.py` `PromptSpell`: `length` trainable
/// embeddings [N, h] (`spell_embeddings`) and a head (`--prompt-func`). `encode(tape:)` returns the N prompt
/// rows [N, h] that replace the input embeddings at each row's prompt positions (`GLMModel.forward`'s
/// `inputEmbeddings`).
///
/// Parameters are named as the original's state dict keys under `prompt_spell.` (`spell_embeddings.weight`,
/// `mlp_head.0.weight/bias`, `mlp_head.2.weight/bias`).
///
/// Initialisation (seeded): embeddings N(0, 1) as `torch.nn.Embedding`; linear weights and biases
/// U(−1/√h, 1/√h) as `torch.nn.Linear`'s defaults. (`--prompt-init`, init from word embeddings, is not done.)
public final class PromptEncoder {
    public let function: PromptFunction
    public let length: Int
    public let hiddenSize: Int
    public let embeddings: Parameter
    /// mlp head: (first linear, second linear); nil for `none`.
    public let mlp: (w0: Parameter, b0: Parameter, w2: Parameter, b2: Parameter)?

    public static let prefix = "prompt_spell."

    public init(function: PromptFunction, length: Int, hiddenSize: Int, seed: UInt64 = 1234) throws {
        guard length >= 1, hiddenSize >= 1 else {
            throw GLMError.badInput("prompt encoder needs ≥ 1 prompt token and hidden size, got \(length), \(hiddenSize)")
        }
        guard function != .lstm else {
            throw GLMError.badInput("--prompt-func lstm (the original's bidirectional LSTM head) is not implemented; use mlp or none")
        }
        self.function = function
        self.length = length
        self.hiddenSize = hiddenSize
        var rng = SeededGenerator(seed: seed)
        func tensor(_ shape: [Int], _ sample: () -> Double) throws -> Tensor {
            try Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in Float(sample()) })
        }
        let p = Self.prefix
        embeddings = Parameter(name: p + "spell_embeddings.weight", value: try tensor([length, hiddenSize]) { rng.nextNormal() })
        if function == .mlp {
            let bound = 1 / Double(hiddenSize).squareRoot()
            func u() -> Double { (rng.nextUniform() * 2 - 1) * bound }
            mlp = (Parameter(name: p + "mlp_head.0.weight", value: try tensor([hiddenSize, hiddenSize], u)),
                   Parameter(name: p + "mlp_head.0.bias", value: try tensor([hiddenSize], u), weightDecay: false),
                   Parameter(name: p + "mlp_head.2.weight", value: try tensor([hiddenSize, hiddenSize], u)),
                   Parameter(name: p + "mlp_head.2.bias", value: try tensor([hiddenSize], u), weightDecay: false))
        } else {
            mlp = nil
        }
    }

    /// Every trainable parameter, in state-dict order.
    public var parameters: [Parameter] {
        var ps = [embeddings]
        if let m = mlp { ps += [m.w0, m.b0, m.w2, m.b2] }
        return ps
    }

    /// `PromptSpell.forward()` without the batch dimension: the prompt rows [N, h].
    public func encode(tape: Tape) throws -> Variable {
        guard let m = mlp else { return embeddings }
        let hidden = try tape.relu(try tape.linear(embeddings, weight: m.w0, bias: m.b0))
        return try tape.linear(hidden, weight: m.w2, bias: m.b2)
    }

    /// The tensors by name (to save next to a model).
    public var stateDict: [(name: String, tensor: Tensor)] { parameters.map { ($0.name, $0.value) } }

    /// Copies saved tensors (as `stateDict` names them) into the parameters; every parameter must be present.
    public func load(_ tensors: [String: Tensor]) throws {
        for p in parameters {
            guard let t = tensors[p.name] else { throw GLMError.badInput("prompt encoder: \(p.name) is missing") }
            guard t.shape == p.shape else { throw GLMError.badInput("prompt encoder: \(p.name) is \(t.shape), expected \(p.shape)") }
            try p.value.copy(from: t)
            p.markModified()
        }
    }
}
