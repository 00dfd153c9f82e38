import Foundation

/// The built-in default model that `glm generate` uses without `--model`.
///
/// It ships in the repository (`Models/glm-kjv-small`, trained by `scripts/train-default-model.sh`); a
/// checkout without it makes `path()` fail with a clear error. Where it lives is decided HERE ONLY: `relativePath` inside the package checkout (resolved from this source file's
/// location, so a binary built from a checkout finds it), overridable with `GLM_DEFAULT_MODEL`.
public enum DefaultModel {
    /// The one place the default model's location is written down (relative to the package root).
    public static let relativePath = "Models/glm-kjv-small"

    /// Environment variable that points to another default model (absolute path).
    public static let environmentVariable = "GLM_DEFAULT_MODEL"

    /// <package root>/Models/glm-kjv-small, from this file's path (<root>/Sources/GLMGeneration/DefaultModel.swift).
    public static var packagePath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(relativePath).path
    }

    /// The default model's folder, or `GenerationError.defaultModelMissing` when it is not there.
    public static func path() throws -> String {
        let p = ProcessInfo.processInfo.environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 } ?? packagePath
        guard FileManager.default.fileExists(atPath: p) else { throw GenerationError.defaultModelMissing(path: p) }
        return p
    }
}
