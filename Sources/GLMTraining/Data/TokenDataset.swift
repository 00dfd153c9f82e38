// Random access to a prepared token dataset through read-only memory maps.
import Foundation
import GLMSupport

/// Where sample construction gets documents from: a prepared `TokenDataset`, or memory in tests.
public protocol DocumentStore: Sendable {
    var documentCount: Int { get }
    func documentLength(_ index: Int) -> Int
    func documentTokens(_ index: Int) -> [Int32]
    /// `SentenceEnd` flag byte of each token of the document.
    func documentSentenceFlags(_ index: Int) -> [UInt8]
    /// Tokens `range` of a document (positions inside the document).
    func documentTokens(_ index: Int, in range: Range<Int>) -> [Int32]
    func documentSentenceFlags(_ index: Int, in range: Range<Int>) -> [UInt8]
}

extension DocumentStore {
    public func documentTokens(_ index: Int, in range: Range<Int>) -> [Int32] { Array(documentTokens(index)[range]) }
    public func documentSentenceFlags(_ index: Int, in range: Range<Int>) -> [UInt8] { Array(documentSentenceFlags(index)[range]) }
}

/// A memory-mapped dataset written by `DatasetPreparer`. Opening validates the header and every file
/// size and the document offsets (O(documents)); `verify()` additionally checks checksums and ids.
public final class TokenDataset: DocumentStore, @unchecked Sendable {
    // @unchecked Sendable: all stored properties are immutable; the maps are read-only.
    public let directory: String
    public let meta: TokenDatasetMeta
    private let tokens: MappedFile
    private let offsets: MappedFile
    private let flags: MappedFile

    public var documentCount: Int { meta.documentCount }
    public var tokenCount: Int { meta.tokenCount }
    public var commandTokens: CommandTokenIDs { meta.tokenizer.commandTokens }

    public init(directory: String) throws {
        self.directory = directory
        let metaPath = (directory as NSString).appendingPathComponent(TokenDatasetMeta.metaFile)
        guard FileManager.default.fileExists(atPath: metaPath) else {
            throw TokenDatasetError(directory, "no \(TokenDatasetMeta.metaFile): not a prepared dataset, or preparation did not finish (run `glm data prepare` again to resume)")
        }
        let meta: TokenDatasetMeta
        do {
            meta = try JSONDecoder().decode(TokenDatasetMeta.self, from: Data(contentsOf: URL(fileURLWithPath: metaPath)))
        } catch {
            throw TokenDatasetError(metaPath, "unreadable header: \(error)")
        }
        guard meta.format == TokenDatasetMeta.formatName else {
            throw TokenDatasetError(metaPath, "format is \"\(meta.format)\", expected \"\(TokenDatasetMeta.formatName)\"")
        }
        guard meta.version == TokenDatasetMeta.currentVersion else {
            throw TokenDatasetError(metaPath, "version \(meta.version) is not supported (this build reads \(TokenDatasetMeta.currentVersion))")
        }
        guard meta.tokenDType == "uint16" || meta.tokenDType == "uint32" else {
            throw TokenDatasetError(metaPath, "token dtype \"\(meta.tokenDType)\" is not uint16 or uint32")
        }
        guard meta.tokenCount >= 0, meta.documentCount >= 0 else {
            throw TokenDatasetError(metaPath, "negative counts")
        }
        self.meta = meta
        func file(_ name: String, expectedBytes: Int) throws -> MappedFile {
            let path = (directory as NSString).appendingPathComponent(name)
            let mapped = try MappedFile(dataFile: path)
            guard mapped.count == expectedBytes else {
                throw TokenDatasetError(path, "size is \(mapped.count) bytes, header says \(expectedBytes)")
            }
            return mapped
        }
        tokens = try file(TokenDatasetMeta.tokensFile, expectedBytes: meta.tokenCount * meta.tokenWidth)
        offsets = try file(TokenDatasetMeta.documentsFile, expectedBytes: (meta.documentCount + 1) * 8)
        flags = try file(TokenDatasetMeta.sentenceFlagsFile, expectedBytes: meta.tokenCount)
        var previous = 0
        for i in 0...meta.documentCount {
            let o = offset(i)
            if (i == 0 && o != 0) || o < previous || o > meta.tokenCount
                || (i == meta.documentCount && o != meta.tokenCount) {
                throw TokenDatasetError(offsets.path, "document offset \(i) = \(o) is out of order or out of range (tokens: \(meta.tokenCount))")
            }
            previous = o
        }
    }

    private func offset(_ i: Int) -> Int {
        Int(UInt64(littleEndian: offsets.bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
    }

    /// Global token range of document `index`.
    public func documentRange(_ index: Int) -> Range<Int> {
        precondition(index >= 0 && index < documentCount, "document \(index) out of 0..<\(documentCount)")
        return offset(index)..<offset(index + 1)
    }

    public func documentLength(_ index: Int) -> Int { documentRange(index).count }

    public func documentTokens(_ index: Int) -> [Int32] { tokens(in: documentRange(index)) }

    public func documentSentenceFlags(_ index: Int) -> [UInt8] {
        let r = documentRange(index)
        return Array(flags.bytes[r])
    }

    public func documentTokens(_ index: Int, in range: Range<Int>) -> [Int32] {
        let r = documentRange(index)
        precondition(range.lowerBound >= 0 && range.upperBound <= r.count, "range \(range) outside document \(index) of \(r.count) tokens")
        return tokens(in: (r.lowerBound + range.lowerBound)..<(r.lowerBound + range.upperBound))
    }

    public func documentSentenceFlags(_ index: Int, in range: Range<Int>) -> [UInt8] {
        let r = documentRange(index)
        precondition(range.lowerBound >= 0 && range.upperBound <= r.count, "range \(range) outside document \(index) of \(r.count) tokens")
        return Array(flags.bytes[(r.lowerBound + range.lowerBound)..<(r.lowerBound + range.upperBound)])
    }

    /// Token ids of a global token range.
    public func tokens(in range: Range<Int>) -> [Int32] {
        precondition(range.lowerBound >= 0 && range.upperBound <= tokenCount, "token range \(range) out of 0..<\(tokenCount)")
        let raw = tokens.bytes
        if meta.tokenWidth == 2 {
            return range.map { Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self))) }
        }
        return range.map { Int32(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }

    /// Full check: file checksums against the header and every id below the tokenizer's token count.
    public func verify() throws {
        for (name, file) in [(TokenDatasetMeta.tokensFile, tokens), (TokenDatasetMeta.documentsFile, offsets),
                             (TokenDatasetMeta.sentenceFlagsFile, flags)] {
            var h = FNV1a64()
            h.update(file.bytes)
            if let expected = meta.checksums[name], expected != h.hex {
                throw TokenDatasetError(file.path, "checksum \(h.hex) differs from the header's \(expected): the file was modified or damaged")
            }
        }
        let limit = meta.tokenizer.tokenCount
        for start in stride(from: 0, to: tokenCount, by: 1 << 16) {
            let chunk = tokens(in: start..<min(tokenCount, start + (1 << 16)))
            if let bad = chunk.firstIndex(where: { $0 < 0 || Int($0) >= limit }) {
                throw TokenDatasetError(tokens.path, "token \(start + bad) has id \(chunk[bad]), not below the tokenizer's \(limit)")
            }
        }
    }
}

/// Documents held in memory (tests, small corpora); same semantics as a `TokenDataset`.
public struct InMemoryDocuments: DocumentStore {
    public let documents: [[Int32]]
    public let flags: [[UInt8]]

    public init(documents: [[Int32]], flags: [[UInt8]]) {
        precondition(documents.count == flags.count && zip(documents, flags).allSatisfy { $0.count == $1.count },
                     "one flag byte per token")
        self.documents = documents
        self.flags = flags
    }

    /// Flags computed from a token-string lookup, as preparation does.
    public init(documents: [[Int32]], tokenString: (Int32) -> String) {
        self.init(documents: documents,
                  flags: documents.map { $0.map { SentenceEnd.flags(forToken: tokenString($0)) } })
    }

    public var documentCount: Int { documents.count }
    public func documentLength(_ index: Int) -> Int { documents[index].count }
    public func documentTokens(_ index: Int) -> [Int32] { documents[index] }
    public func documentSentenceFlags(_ index: Int) -> [UInt8] { flags[index] }
    public func documentTokens(_ index: Int, in range: Range<Int>) -> [Int32] { Array(documents[index][range]) }
    public func documentSentenceFlags(_ index: Int, in range: Range<Int>) -> [UInt8] { Array(flags[index][range]) }
}
