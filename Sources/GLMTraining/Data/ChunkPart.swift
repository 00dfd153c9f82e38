// The result of tokenizing one chunk, kept as a file under `<output>/.prepare/` until the final merge.
// Its atomic appearance is the chunk's "done" marker: a restarted preparation skips chunks that have one.
//
// Layout (little-endian): "GLMPART1", u64 input index, u64 documents, u64 tokens, u64 bytes of report,
// u64 document lengths[documents], u32 token ids[tokens], u8 sentence flags[tokens], report (JSON).
import Foundation
import GLMSupport

struct ChunkPart {
    static let magic = Array("GLMPART1".utf8)

    /// One line not used, or repaired.
    struct Note: Codable, Equatable, Sendable {
        var line: Int
        var reason: String
        /// false: repaired and kept; true: skipped.
        var skipped: Bool
    }

    var input: Int
    var documentLengths: [UInt64] = []
    var tokens: [UInt32] = []
    var flags: [UInt8] = []
    var notes: [Note] = []

    func write(to path: String) throws {
        let report = try JSONEncoder().encode(notes)
        let writer = try AtomicFileWriter(dataFile: path)
        try writer.write(Self.magic)
        try writer.write(littleEndian: [UInt64(input), UInt64(documentLengths.count), UInt64(tokens.count), UInt64(report.count)])
        try writer.write(littleEndian: documentLengths)
        try writer.write(littleEndian: tokens)
        try writer.write(flags)
        try writer.write([UInt8](report))
        try writer.commit()
    }

    /// A chunk result read back (memory-mapped); validates the header against the file size.
    struct Mapped {
        let file: MappedFile
        let input: Int
        let documentCount: Int
        let tokenCount: Int
        let notes: [Note]
        var lengthsOffset: Int { 40 }
        var tokensOffset: Int { 40 + documentCount * 8 }
        var flagsOffset: Int { tokensOffset + tokenCount * 4 }

        init(path: String) throws {
            file = try MappedFile(dataFile: path)
            let b = file.bytes
            guard b.count >= 40, Array(b[0..<8]) == ChunkPart.magic else {
                throw DataFileError(path, "not a chunk result (bad magic); delete it to redo the chunk")
            }
            func u64(_ at: Int) -> Int { Int(UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self))) }
            input = u64(8); documentCount = u64(16); tokenCount = u64(24)
            let reportBytes = u64(32)
            let expected = 40 + documentCount * 8 + tokenCount * 5 + reportBytes
            guard b.count == expected else {
                throw DataFileError(path, "chunk result is \(b.count) bytes, its header says \(expected); delete it to redo the chunk")
            }
            notes = try JSONDecoder().decode([Note].self, from: Data(b[(expected - reportBytes)..<expected]))
        }

        func documentLength(_ i: Int) -> Int {
            Int(UInt64(littleEndian: file.bytes.loadUnaligned(fromByteOffset: lengthsOffset + i * 8, as: UInt64.self)))
        }
    }
}
