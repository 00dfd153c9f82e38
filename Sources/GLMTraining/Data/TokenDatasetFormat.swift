// The on-disk layout of a prepared token dataset (written by `DatasetPreparer`, read by `TokenDataset`).
//
//   <dir>/meta.json           this header; written LAST, so its presence means the dataset is complete
//   <dir>/tokens.bin          all documents' token ids back to back, little-endian uint16 or uint32
//                             (uint16 when every id fits, i.e. tokenizer token count <= 65536)
//   <dir>/documents.bin       documentCount + 1 little-endian uint64 token offsets; document i is
//                             tokens [offsets[i], offsets[i+1])
//   <dir>/sentence_flags.bin  one byte per token: bit 0 = ends a sentence for span construction
//                             (ConstructBlockStrategy rule), bit 1 = ends a sentence for window cutting
//                             (BlockDataset rule). See `SentenceEnd`.
//
// Documents hold the text tokens only: the [CLS] (ENC) in front and the eos after each document are
// added when samples are built, as the original's BlockDataset does. Raw arrays (no per-file header)
// so other tools (numpy.memmap) can read them too.
import Foundation

public struct TokenDatasetMeta: Codable, Sendable, Equatable {
    public static let formatName = "swiftglm-token-dataset"
    public static let currentVersion = 1
    public static let tokensFile = "tokens.bin"
    public static let documentsFile = "documents.bin"
    public static let sentenceFlagsFile = "sentence_flags.bin"
    public static let metaFile = "meta.json"

    public struct TokenizerInfo: Codable, Sendable, Equatable {
        public var preset: String
        /// Every token id is `< tokenCount`.
        public var tokenCount: Int
        public var commandTokens: CommandTokenIDs
        /// FNV-1a over every id's token string: tells two tokenizers with the same name apart.
        public var vocabularyFingerprint: String
    }

    public struct Source: Codable, Sendable, Equatable {
        public var path: String
        public var format: String
        public var documents: Int
        public var tokens: Int
        public var skippedLines: Int
    }

    public var format: String = formatName
    public var version: Int = currentVersion
    /// "uint16" or "uint32".
    public var tokenDType: String
    public var tokenCount: Int
    public var documentCount: Int
    public var tokenizer: TokenizerInfo
    /// Curly quotes and en dashes replaced as the original's `punctuation_standardization`.
    public var punctuationStandardized: Bool
    public var sources: [Source]
    /// Skipped input records by reason.
    public var skippedByReason: [String: Int]
    /// FNV-1a of each data file, for `TokenDataset.verify()`.
    public var checksums: [String: String]
    /// Identifies the inputs and options that produced the dataset (a re-run with the same ones is a no-op).
    public var jobFingerprint: String

    public var tokenWidth: Int { tokenDType == "uint16" ? 2 : 4 }

    public static func dtype(forTokenCount n: Int) -> String { n <= 65536 ? "uint16" : "uint32" }
}

/// A prepared dataset is missing, damaged or inconsistent.
public struct TokenDatasetError: Error, CustomStringConvertible, LocalizedError {
    public let path: String
    public let message: String
    public init(_ path: String, _ message: String) { self.path = path; self.message = message }
    public var description: String { "token dataset \(path): \(message)" }
    public var errorDescription: String? { description }
}
