import ArgumentParser
import GLMCheckpoint
import GLM

/// `glm inspect`: a command group. `glm inspect MODEL` (the default subcommand `summary`) describes a
/// checkpoint; `forward` and `train` run fixture cases through the GLMParity harness.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Look inside a model: config, parameters, tensors and where each came from.",
        subcommands: [InspectSummaryCommand.self, InspectForwardCommand.self, InspectTrainCommand.self, InspectTaskCommand.self],
        defaultSubcommand: InspectSummaryCommand.self)
}

struct InspectSummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Print a model's config, parameter count, dtypes, and every tensor's shape and source file (default of `glm inspect MODEL`).")

    @Argument(help: "Model folder or weights file (any layout `glm convert` reads).")
    var model: String

    @OptionGroup var options: ModelOptions

    func run() throws {
        let m = try ModelFiles.load(model, options: options.loadOptions)
        let c = m.config
        var layout = m.layout.rawValue
        if m.modelParallelSize > 1 { layout += " (\(m.modelParallelSize) model-parallel ranks merged)" }
        if let it = m.iteration { layout += ", iteration \(it)" }
        print("model:      \(m.path)")
        print("layout:     \(layout)")
        print("config:     \(m.configSource)")
        print("            \(c.numLayers) layers, hidden \(c.hiddenSize), \(c.numAttentionHeads) heads (head dim \(c.headDim)), ffn \(c.intermediateSize)")
        print("            vocab \(c.vocabSize) (padded), max positions \(c.maxSequenceLength) (tables of \(c.positionTableRows) rows), block positions \(c.blockPositionEncoding ? "on" : "off")")
        print("            tokenizer \(c.tokenizer ?? "unknown (pass --tokenizer PRESET)")")
        let dtypes = m.dtypeCounts.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) ×\($0.value)" }.joined(separator: ", ")
        let bytes = m.weights.values.reduce(0) { $0 + $1.byteCount }
        print("parameters: \(formatted(m.parameterCount)) in \(m.weights.count) tensors (\(dtypes)), \(formatted(bytes)) bytes")
        print("tensors:")
        let width = m.names.map(\.count).max() ?? 0
        for name in m.names {
            let t = m.weights[name]!
            let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
            print("  \(name.padding(toLength: width, withPad: " ", startingAt: 0))  \(t.dtype.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0)) \(shape.padding(toLength: 14, withPad: " ", startingAt: 0)) \(m.provenance[name] ?? "?")")
        }
    }

    func formatted(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return out
    }
}
