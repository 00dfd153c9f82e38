// Fills a blank with SwiftGLM's built-in default model, using SwiftGLM as a versioned dependency.
import SwiftGLM

let prompt = CommandLine.arguments.dropFirst().first ?? "In the beginning God created the [MASK] and the earth."
let glm = try GLMGenerator.loadDefault()
let result = try glm.generate(prompt)
print("SwiftGLM \(SwiftGLMLibrary.version): \(result.text)")
