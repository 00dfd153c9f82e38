import ArgumentParser
import GLMCheckpoint
import Foundation
import GLM
import GLMParity

/// Shared by `glm inspect forward` and `glm inspect train`: model, case file, output file.
struct CaseOptions: ParsableArguments {
    @Option(help: "Model folder or weights file (any layout).")
    var model: String

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Case JSON in the layout of the reference fixtures (forward/*.json or train/*.json).")
    var input: String

    @Option(help: "Where to write the resulting tensors (.safetensors, written atomically).")
    var output: String

    func readCase() throws -> [String: Any] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: input)) } catch {
            throw ValidationError("cannot read case file \(input): \(error.localizedDescription)")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ValidationError("case file \(input) is not a JSON object")
        }
        return obj
    }

    func write(_ tensors: [(String, TensorData)]) throws {
        try Safetensors.write(tensors, to: output)
        for (name, t) in tensors { print("\(name) \(t.dtype.rawValue)\(t.shape)") }
        print("wrote \(tensors.count) tensors to \(output)")
    }
}

struct InspectForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run one forward case (fixture layout: single, batch, explicit mask, three-pass memories) and save every output tensor.")

    @OptionGroup var options: CaseOptions

    func run() throws {
        let model = try GLMModel.load(options.model, options: options.modelOptions.loadOptions)
        try options.write(try CaseRunner.forward(model: model, case: try options.readCase()))
    }
}

struct InspectTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Run one pre-training batch (fixture layout) and save the loss, per-token losses and every gradient (dropout off).")

    @OptionGroup var options: CaseOptions

    func run() throws {
        let model = try GLMModel.load(options.model, options: options.modelOptions.loadOptions)
        try options.write(try CaseRunner.train(model: model, case: try options.readCase()))
    }
}
