import Foundation
import GLMEngine

/// The original's `--prompt-func`: how the trainable prompt embeddings become the prompt rows.
public enum PromptFunction: String, Sendable, CaseIterable, Codable {
    /// Two-layer bidirectional LSTM (hidden h per direction) → Linear(2h, h) → ReLU → Linear(h, h) (the original's default).
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
/// `lstm_head.weight_ih_l0[_reverse]` …, `mlp_head.0.weight/bias`, `mlp_head.2.weight/bias`).
///
/// Initialisation (seeded): embeddings N(0, 1) as `torch.nn.Embedding`; linear and LSTM weights and biases
/// U(−1/√fan, 1/√fan) as torch's defaults (fan: the linear's input width, the LSTM's hidden size).
/// (`--prompt-init`, init from word embeddings, is not done.)
public final class PromptEncoder {
    public let function: PromptFunction
    public let length: Int
    public let hiddenSize: Int
    public let embeddings: Parameter
    /// mlp head: (first linear, second linear); nil for `none`.
    public let mlp: (w0: Parameter, b0: Parameter, w2: Parameter, b2: Parameter)?
    /// lstm head: layers 0 and 1, each (forward, reverse) weights `[w_ih, w_hh, b_ih, b_hh]`; empty otherwise.
    public let lstm: [[[Parameter]]]

    public static let prefix = "prompt_spell."

    public init(function: PromptFunction, length: Int, hiddenSize: Int, seed: UInt64 = 1234) throws {
        guard length >= 1, hiddenSize >= 1 else {
            throw GLMError.badInput("prompt encoder needs ≥ 1 prompt token and hidden size, got \(length), \(hiddenSize)")
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
        let h = hiddenSize
        func uniform(_ fan: Int) -> () -> Double {
            let bound = 1 / Double(fan).squareRoot()
            return { (rng.nextUniform() * 2 - 1) * bound }
        }
        var lstm: [[[Parameter]]] = []
        if function == .lstm {
            for layer in 0..<2 {
                let inWidth = layer == 0 ? h : 2 * h
                lstm.append(try ["", "_reverse"].map { suffix in
                    let n = p + "lstm_head."
                    return [Parameter(name: n + "weight_ih_l\(layer)\(suffix)", value: try tensor([4 * h, inWidth], uniform(h))),
                            Parameter(name: n + "weight_hh_l\(layer)\(suffix)", value: try tensor([4 * h, h], uniform(h))),
                            Parameter(name: n + "bias_ih_l\(layer)\(suffix)", value: try tensor([4 * h], uniform(h)), weightDecay: false),
                            Parameter(name: n + "bias_hh_l\(layer)\(suffix)", value: try tensor([4 * h], uniform(h)), weightDecay: false)]
                })
            }
        }
        self.lstm = lstm
        if function != .none {
            let inWidth = function == .lstm ? 2 * h : h
            let u = uniform(inWidth), u2 = uniform(h)
            mlp = (Parameter(name: p + "mlp_head.0.weight", value: try tensor([hiddenSize, inWidth], u)),
                   Parameter(name: p + "mlp_head.0.bias", value: try tensor([hiddenSize], u), weightDecay: false),
                   Parameter(name: p + "mlp_head.2.weight", value: try tensor([hiddenSize, hiddenSize], u2)),
                   Parameter(name: p + "mlp_head.2.bias", value: try tensor([hiddenSize], u2), weightDecay: false))
        } else {
            mlp = nil
        }
    }

    /// Every trainable parameter, in state-dict order.
    public var parameters: [Parameter] {
        var ps = [embeddings] + lstm.flatMap { $0.flatMap { $0 } }
        if let m = mlp { ps += [m.w0, m.b0, m.w2, m.b2] }
        return ps
    }

    /// `PromptSpell.forward()` without the batch dimension: the prompt rows [N, h].
    public func encode(tape: Tape) throws -> Variable {
        guard let m = mlp else { return embeddings }
        var x: Variable = embeddings
        for layer in lstm {
            func w(_ q: [Parameter]) -> LSTMWeights { LSTMWeights(wIH: q[0], wHH: q[1], bIH: q[2], bHH: q[3]) }
            x = try tape.bidirectionalLSTM(x, forward: w(layer[0]), reverse: w(layer[1]))
        }
        let hidden = try tape.relu(try tape.linear(x, weight: m.w0, bias: m.b0))
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
