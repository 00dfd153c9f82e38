// Uses SwiftGLM as another package would (a versioned dependency): fills a blank with the built-in
// default model, batches, streams and scores choices through the one-page API, `GLMPipeline`.
import SwiftGLM

let prompt = CommandLine.arguments.dropFirst().first ?? "In the beginning God created the [MASK] and the earth."
let glm = try GLMPipeline.loadDefault()
print("tokens:", glm.tokenize(prompt))
print("SwiftGLM \(SwiftGLMLibrary.version): \(try glm.fill(prompt).text)")
for r in glm.fill(["And God said, Let there be [MASK].", "Blessed are the [MASK]."]) { print("batch:", try r.get().text) }
var streamed = 0
for try await event in glm.stream(prompt) { if case .token = event { streamed += 1 } }
print("streamed tokens:", streamed)
let s = try glm.scoreChoices("The LORD is my [MASK].", choices: ["shepherd", "table"])
print("choice scores:", s.scores, "best:", s.best)
