// The public face of the Tokenizers module: what the model, generation and training code share.

/// A GLM tokenizer: a text tokenizer (WordPiece, byte-level BPE or SentencePiece) plus GLM's command
/// tokens, reproducing THUDM/GLM `data_utils/tokenization.py` exactly (ids, IdToToken, DecodeIds).
///
/// Ids are `Int` in the GLM id space, i.e. what the embedding table is indexed with.
public protocol Tokenizer: Sendable {
    /// Preset name (e.g. `glm-large`) or a description of the files it was built from.
    var name: String { get }
    var family: TokenizerFamily { get }
    /// The original's `EncodeAsIds(text).tokenization`: command tokens split out first, in list order.
    func encode(_ text: String) -> [Int]
    /// The original's `DecodeIds(ids)`. Ids the original cannot decode (outside the vocabulary, or the
    /// padding rows of the embedding) contribute nothing instead of raising.
    func decode(_ ids: [Int]) -> String
    /// The original's `IdToToken(id)`; nil where the original raises (unknown id).
    func token(for id: Int) -> String?
    /// Id of a command-token string (the effective map, later entries win) or of a text-vocabulary
    /// entry; nil when neither knows it.
    func id(for token: String) -> Int?
    /// Id of a command token by the original's name: ENC, MASK, sMASK, gMASK, sop, eop, eos, pad, unk, sep.
    func commandToken(named name: String) -> Int?
    /// Command tokens in the original's list order (duplicates and shared ids kept as the original has them).
    var commandTokens: [CommandToken] { get }
    /// The original's `num_tokens` (text + command tokens).
    var numTokens: Int { get }
    /// The original's `num_text_tokens` bookkeeping value.
    var numTextTokens: Int { get }
    /// Embedding rows of the model: `numTokens` rounded up to a multiple of 128.
    var paddedVocabSize: Int { get }
    /// Whether the preset was built with `--task-mask` (has [sMASK] and [gMASK]).
    var hasTaskMask: Bool { get }
}

/// Names of the GLM command tokens, as `get_command(name)` takes them.
public enum CommandName: String, Sendable, CaseIterable {
    case pad, eos, sep, ENC, MASK, unk, sop, eop, gMASK, sMASK
}

/// One entry of the original's command-token list.
public struct CommandToken: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let token: String
    public let id: Int
    /// The token eats whitespace on its left (the text piece before it is right-stripped).
    public let lstrip: Bool
    /// The token eats whitespace on its right (the text piece after it is left-stripped).
    public let rstrip: Bool

    public init(name: String, token: String, id: Int, lstrip: Bool = false, rstrip: Bool = false) {
        self.name = name
        self.token = token
        self.id = id
        self.lstrip = lstrip
        self.rstrip = rstrip
    }

    public var description: String { "\(name)=\(token)#\(id)" }
}

/// The four text-tokenizer families of GLM.
public enum TokenizerFamily: String, Sendable, CaseIterable {
    /// BERT uncased WordPiece (GLM-Base/Large/Doc/410M/515M).
    case bertWordPiece = "bert-base-uncased"
    /// GPT-2 byte-level BPE (GLM-2B/10B).
    case gpt2 = "gpt2"
    /// RoBERTa byte-level BPE with RoBERTa's special-token ids (GLM-RoBERTa).
    case roberta = "roberta"
    /// SentencePiece `cog-pretrain.model` (GLM-Large-Chinese / GLM-10B-Chinese).
    case chineseSentencePiece = "chinese-sp"
}

extension Tokenizer {
    /// Encode to `Int32` ids, the dtype the engine's embedding lookup takes.
    public func encodeInt32(_ text: String) -> [Int32] { encode(text).map { Int32(truncatingIfNeeded: $0) } }

    /// Id of a command token by its typed name.
    public func commandToken(_ name: CommandName) -> Int? { commandToken(named: name.rawValue) }

    /// Names of the mask tokens this preset has, in the order generate_samples.py searches them.
    public var maskTokenNames: [String] { hasTaskMask ? ["MASK", "sMASK", "gMASK"] : ["MASK"] }

    /// Ids of `maskTokenNames`.
    public var maskTokenIds: [Int] { maskTokenNames.compactMap { commandToken(named: $0) } }

    /// The mask appended to a generation prompt that has none: `[gMASK]` with task masks, else `[MASK]`.
    public var generationMask: String { hasTaskMask ? "[gMASK]" : "[MASK]" }
}

/// Errors of loading a tokenizer; each names the file (and line or key) at fault.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String)
    case unreadableFile(path: String, reason: String)
    case malformedFile(path: String, reason: String)
    case missingEntry(path: String, entry: String)
    case unknownPreset(name: String, known: [String])

    public var description: String {
        switch self {
        case .missingFile(let path): return "tokenizer file not found: \(path)"
        case .unreadableFile(let path, let reason): return "cannot read tokenizer file \(path): \(reason)"
        case .malformedFile(let path, let reason): return "malformed tokenizer file \(path): \(reason)"
        case .missingEntry(let path, let entry): return "tokenizer file \(path) lacks the entry \(entry)"
        case .unknownPreset(let name, let known):
            return "unknown tokenizer preset '\(name)'; known presets: \(known.joined(separator: ", "))"
        }
    }
}
