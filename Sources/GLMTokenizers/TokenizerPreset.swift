// Tokenizer presets by published model name (the names of the model presets), with the tokenizer
// flags of each `config_tasks/model_blocklm_*.sh`, and the loader that builds them from the shipped
// vocabulary files or from a model folder's own.
import Foundation

/// A published GLM configuration's tokenizer.
public struct TokenizerPreset: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let family: TokenizerFamily
    /// `--task-mask`: adds [gMASK] and [sMASK].
    public let taskMask: Bool
    /// `--fix-command-token` (GLM-Large-Chinese only).
    public let fixCommandToken: Bool
    /// The `config_tasks/*.sh` file the flags come from.
    public let config: String

    public var description: String { name }

    public static let glmBase = TokenizerPreset(name: "glm-base", family: .bertWordPiece, taskMask: false, fixCommandToken: false, config: "model_blocklm_base.sh")
    public static let glmLarge = TokenizerPreset(name: "glm-large", family: .bertWordPiece, taskMask: false, fixCommandToken: false, config: "model_blocklm_large.sh")
    public static let glmLargeGeneration = TokenizerPreset(name: "glm-large-generation", family: .bertWordPiece, taskMask: false, fixCommandToken: false, config: "model_blocklm_large_generation.sh")
    public static let glm410M = TokenizerPreset(name: "glm-410m", family: .bertWordPiece, taskMask: false, fixCommandToken: false, config: "model_blocklm_1.25_generation.sh")
    public static let glm515M = TokenizerPreset(name: "glm-515m", family: .bertWordPiece, taskMask: false, fixCommandToken: false, config: "model_blocklm_1.5_generation.sh")
    public static let glmRobertaLarge = TokenizerPreset(name: "glm-roberta-large", family: .roberta, taskMask: false, fixCommandToken: false, config: "model_blocklm_roberta_large.sh")
    public static let glmRoberta125 = TokenizerPreset(name: "glm-roberta-1.25", family: .roberta, taskMask: true, fixCommandToken: false, config: "model_blocklm_roberta_1.25.sh")
    public static let glm2B = TokenizerPreset(name: "glm-2b", family: .gpt2, taskMask: true, fixCommandToken: false, config: "model_blocklm_2B.sh")
    public static let glm10B = TokenizerPreset(name: "glm-10b", family: .gpt2, taskMask: true, fixCommandToken: false, config: "model_blocklm_10B.sh")
    public static let glmLargeChinese = TokenizerPreset(name: "glm-large-chinese", family: .chineseSentencePiece, taskMask: true, fixCommandToken: true, config: "model_blocklm_large_chinese.sh")
    public static let glm10BChinese = TokenizerPreset(name: "glm-10b-chinese", family: .chineseSentencePiece, taskMask: true, fixCommandToken: false, config: "model_blocklm_10B_chinese.sh")

    public static let all: [TokenizerPreset] = [
        glmBase, glmLarge, glmLargeGeneration, glm410M, glm515M, glmRobertaLarge, glmRoberta125,
        glm2B, glm10B, glmLargeChinese, glm10BChinese,
    ]

    /// The preset with this name (case-insensitive).
    public static func named(_ name: String) throws -> TokenizerPreset {
        let key = name.lowercased()
        guard let p = all.first(where: { $0.name == key }) else {
            throw TokenizerError.unknownPreset(name: name, known: all.map(\.name))
        }
        return p
    }

    /// Loads this preset's tokenizer (see `TokenizerLoader.load`).
    public func load(vocabDirectory: URL? = nil) throws -> GLMTokenizer {
        try TokenizerLoader.load(preset: self, vocabDirectory: vocabDirectory)
    }
}

/// Entry points for building tokenizers.
public enum TokenizerLoader {
    /// The folder of vocabulary files shipped with the package (Bundle resources).
    public static var shippedVocabDirectory: URL? {
        Bundle.module.url(forResource: "Vocab", withExtension: nil)
    }

    /// File names a model folder may hold for a family, in order of preference; the first name of each
    /// group that exists is used.
    static func candidateNames(_ family: TokenizerFamily) -> [[String]] {
        switch family {
        case .bertWordPiece: return [["vocab.txt", "bert-large-uncased-vocab.txt", "bert-base-uncased-vocab.txt"]]
        case .gpt2: return [["vocab.json", "gpt2-vocab.json"], ["merges.txt", "gpt2-merges.txt"]]
        case .roberta: return [["vocab.json", "roberta-vocab.json"], ["merges.txt", "roberta-merges.txt", "gpt2-merges.txt"]]
        case .chineseSentencePiece: return [["cog-pretrain.model"]]
        }
    }

    /// The vocabulary files the shipped folder provides for a family.
    static func shippedNames(_ family: TokenizerFamily) -> [String] {
        switch family {
        case .bertWordPiece: return ["bert-base-uncased-vocab.txt"]  // bert-large-uncased is byte-identical
        case .gpt2: return ["gpt2-vocab.json", "gpt2-merges.txt"]
        case .roberta: return ["roberta-vocab.json", "gpt2-merges.txt"]  // roberta-merges is byte-identical
        case .chineseSentencePiece: return ["cog-pretrain.model"]
        }
    }

    /// Resolves the files to read: a model folder's own files when it has all of them, else the shipped ones.
    public static func vocabFiles(for family: TokenizerFamily, vocabDirectory: URL?) throws -> [URL] {
        if let dir = vocabDirectory {
            let fm = FileManager.default
            var found: [URL] = []
            for group in candidateNames(family) {
                if let name = group.first(where: { fm.fileExists(atPath: dir.appendingPathComponent($0).path) }) {
                    found.append(dir.appendingPathComponent(name))
                }
            }
            if found.count == candidateNames(family).count { return found }
        }
        guard let shipped = shippedVocabDirectory else {
            throw TokenizerError.missingFile(path: "Tokenizers resource bundle: Vocab/")
        }
        return shippedNames(family).map { shipped.appendingPathComponent($0) }
    }

    /// Builds a preset's tokenizer, as `configure_data.py prepare_tokenizer` does for its config.
    public static func load(preset: TokenizerPreset, vocabDirectory: URL? = nil) throws -> GLMTokenizer {
        let files = try vocabFiles(for: preset.family, vocabDirectory: vocabDirectory)
        return try load(family: preset.family, files: files, taskMask: preset.taskMask,
                        fixCommandToken: preset.fixCommandToken, name: preset.name)
    }

    /// Loads a preset by name.
    public static func load(presetNamed name: String, vocabDirectory: URL? = nil) throws -> GLMTokenizer {
        try load(preset: try TokenizerPreset.named(name), vocabDirectory: vocabDirectory)
    }

    /// Builds a tokenizer from explicit files: [vocab.txt] (BERT), [vocab.json, merges.txt]
    /// (GPT-2/RoBERTa) or [model] (SentencePiece).
    public static func load(family: TokenizerFamily, files: [URL], taskMask: Bool, fixCommandToken: Bool = false,
                            name: String? = nil) throws -> GLMTokenizer {
        let label = name ?? files.map(\.lastPathComponent).joined(separator: "+")
        switch family {
        case .bertWordPiece:
            guard let vocab = files.first else { throw TokenizerError.missingFile(path: "vocab.txt") }
            let model = try WordPieceModel(vocabFile: vocab)
            let table = try CommandTokenTables.bert(vocab: model, taskMask: taskMask)
            return GLMTokenizer(name: label, family: family, backend: .wordPiece(model), commandTokens: table.tokens,
                                numTokens: table.numTokens, numTextTokens: table.numTextTokens, hasTaskMask: taskMask)
        case .gpt2, .roberta:
            guard files.count >= 2 else { throw TokenizerError.missingFile(path: files.isEmpty ? "vocab.json" : "merges.txt") }
            let model = try ByteLevelBPEModel(vocabFile: files[0], mergesFile: files[1])
            let table = try CommandTokenTables.byteLevel(model: model, roberta: family == .roberta, taskMask: taskMask)
            return GLMTokenizer(name: label, family: family, backend: .byteLevel(model), commandTokens: table.tokens,
                                numTokens: table.numTokens, numTextTokens: table.numTextTokens, hasTaskMask: taskMask)
        case .chineseSentencePiece:
            guard let file = files.first else { throw TokenizerError.missingFile(path: "cog-pretrain.model") }
            let model = try SentencePieceModel(modelFile: file)
            let table = CommandTokenTables.chineseSP(pieceCount: model.count, taskMask: taskMask, fixCommandToken: fixCommandToken)
            return GLMTokenizer(name: label, family: family, backend: .sentencePiece(model), commandTokens: table.tokens,
                                numTokens: table.numTokens, numTextTokens: table.numTextTokens, hasTaskMask: taskMask)
        }
    }
}
