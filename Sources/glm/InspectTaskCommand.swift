import ArgumentParser
import Foundation
import GLMSupport
import GLMTasks

/// `glm inspect task`: re-run a task fixture file (SuperGLUE, multichoice, LM) and write its layout.
struct InspectTaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Re-run a task fixture (tasks/superglue, tasks/multichoice, tasks/lm, tasks/seq2seq, rouge.json) and write the same JSON layout: samples, scores, predictions, metrics, losses.",
        discussion: """
            Every setting of FIXTURE.json is run with its `command_line_flags` (the last occurrence of a flag wins) on the \
            fixture's `input_file` (relative to the fixture's folder); scores use DIR/<model_for_scores>. Seq2seq fixtures: \
            every run's examples and samples (data in the fixture's folder, named as the run's `--data-dir`); rouge.json: \
            the per-pair and per-mode ROUGE numbers (neither needs --models).
            """)

    @Option(help: "Task fixture JSON (tasks/superglue/<task>.json, tasks/multichoice/*.json, tasks/lm/*.json).")
    var input: String

    @Option(help: "Folder holding the model folders the settings name in `model_for_scores` (not needed for seq2seq/ROUGE fixtures).")
    var models: String?

    @Option(help: "Where to write the resulting JSON (written atomically).")
    var output: String

    @Option(help: "Samples per forward pass (no effect on the values).")
    var batchSize: Int = 16

    func run() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        let runner = TaskFixtureRunner(models: models)
        runner.batchSize = batchSize
        let data = try runner.runJSON(fixture: input)
        let writer = try AtomicFileWriter(path: output)
        try writer.write([UInt8](data))
        try writer.commit()
        print("wrote \(output) (\(data.count) bytes)")
    }
}
