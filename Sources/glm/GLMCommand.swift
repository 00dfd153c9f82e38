import ArgumentParser

/// The `glm` command-line tool: a thin shell over the SwiftGLM library, one subcommand per job.
@main
struct GLMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glm",
        abstract: "GLM (General Language Model) in Swift: blank filling, generation, training, tools.",
        subcommands: [
            ConvertCommand.self,
            RandomCheckpointCommand.self,
            InspectCommand.self,
            BenchCommand.self,
            TokenizeCommand.self,
            DataCommand.self,
            GenerateCommand.self,
            PretrainCommand.self,
            EvaluateCommand.self,
            FinetuneCommand.self,
            RougeCommand.self,
            ServeCommand.self,
        ]
    )
}
