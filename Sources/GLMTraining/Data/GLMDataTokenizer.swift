// The Tokenizers module's GLM tokenizers seen through `DataTokenizer`.
import Foundation
import GLMTokenizers

/// Adapts any `Tokenizers.Tokenizer` (a preset's WordPiece / BPE / SentencePiece tokenizer) for data
/// preparation and sample construction.
public struct GLMDataTokenizer: DataTokenizer, Sendable {
    public let base: any Tokenizer
    public let commandTokenIDs: CommandTokenIDs

    /// - Throws: `PrepareError` naming the command token the tokenizer lacks.
    public init(_ base: any Tokenizer) throws {
        self.base = base
        func id(_ name: String) throws -> Int32 {
            guard let v = base.commandToken(named: name) else {
                throw PrepareError("tokenizer \(base.name) has no \(name) command token, which blank-infilling data needs")
            }
            return Int32(v)
        }
        func optional(_ name: String) -> Int32? { base.commandToken(named: name).map(Int32.init) }
        commandTokenIDs = CommandTokenIDs(enc: try id("ENC"), mask: try id("MASK"), sMask: optional("sMASK"), gMask: optional("gMASK"),
                                          sop: try id("sop"), eop: try id("eop"), eos: try id("eos"), pad: try id("pad"),
                                          dBlock: optional("dBLOCK"))
    }

    /// Loads a preset by name (`glm-large`, `glm-10b`, …), from `vocabDirectory` when it holds the files.
    public static func preset(_ name: String, vocabDirectory: String? = nil) throws -> GLMDataTokenizer {
        try GLMDataTokenizer(TokenizerLoader.load(presetNamed: name, vocabDirectory: vocabDirectory.map { URL(fileURLWithPath: $0) }))
    }

    public func encodeIDs(_ text: String) -> [Int] { base.encode(text) }
    public func tokenString(forID id: Int) -> String? { base.token(for: id) }
    public var tokenCount: Int { base.numTokens }
}
