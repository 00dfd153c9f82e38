// SwiftGLM: the umbrella module. `import SwiftGLM` brings the whole public API; see `SwiftGLMAPI.swift`
// for the one page most programs need.
@_exported import GLMEngine
@_exported import GLMCheckpoint
@_exported import GLM
@_exported import GLMTokenizers
@_exported import GLMGeneration
@_exported import GLMTraining
@_exported import GLMTasks

/// Facts about the library itself.
public enum SwiftGLMLibrary {
    /// The library's semantic version; the version tag a dependent package resolves (`from:`).
    public static let version = "0.7.0"
}
