import Foundation
import GLMSupport

extension JSONText {
    /// Parses untrusted JSON text (a safetensors header, a weight index) into Foundation objects, with
    /// `CheckpointError`s naming the file. Nesting is checked first (see `nestsDeeper(than:_:)`).
    static func parse(_ bytes: UnsafeRawBufferPointer, file: String, what: String, maxDepth: Int = 32) throws -> Any {
        if JSONText.nestsDeeper(than: maxDepth, bytes) {
            throw CheckpointError(.malformed, file: file, "\(what): JSON nested deeper than \(maxDepth) levels")
        }
        do {
            return try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            throw CheckpointError(.malformed, file: file, "\(what) is not valid JSON (\(error.localizedDescription))")
        }
    }
}
