// Reading a laid-out row back: used to check rows built from random spans against their samples.
import XCTest
@testable import GLMTraining

/// What a row says about the sample it was made from.
struct DecodedRow {
    /// The sample, rebuilt from part A with every mask replaced by its span (targets used, so [dBLOCK]
    /// hiding does not matter).
    var sample: [Int32]
    /// Span lengths in part-B order.
    var spanLengths: [Int]
    /// Start of each span in the rebuilt sample, in part-B order.
    var spanStarts: [Int]
    /// The mask token used in part A (nil when nothing is blanked).
    var maskID: Int32?
    var isSuffix: Bool
}

/// Decodes a row and checks every structural rule of the layout on the way (positions, block positions,
/// loss mask, targets = next input inside each block).
func decodeRow(_ row: BlockRow, commands: CommandTokenIDs, file: StaticString = #filePath, line: UInt = #line) -> DecodedRow {
    let n = row.count, sep = row.sep
    XCTAssertEqual(row.targets.count, n, file: file, line: line)
    XCTAssertEqual(Array(row.blockPositions[..<min(sep, n)]), [Int32](repeating: 0, count: min(sep, n)), "block positions of part A", file: file, line: line)
    if sep == n {   // nothing blanked
        XCTAssertEqual(row.lossMask, [Int32](repeating: 0, count: n), file: file, line: line)
        XCTAssertEqual(row.positions, (0..<Int32(n)).map { $0 }, file: file, line: line)
        return DecodedRow(sample: row.targets, spanLengths: [], spanStarts: [], maskID: nil, isSuffix: false)
    }
    XCTAssertEqual(row.tokens[sep], commands.sop, "part B starts with sop", file: file, line: line)
    if row.targets[n - 1] != commands.eop {
        // gpt suffix layout: part A = prefix + mask; part B = sop + suffix[:-1]; targets = prefix + mask + suffix.
        let division = sep - 1
        XCTAssertEqual(row.positions, (0...Int32(division)).map { $0 } + [Int32](repeating: Int32(division), count: n - sep), file: file, line: line)
        XCTAssertEqual(Array(row.blockPositions[sep...]), (1...Int32(n - sep)).map { $0 }, file: file, line: line)
        XCTAssertEqual(Array(row.tokens[(sep + 1)...]), Array(row.targets[sep..<(n - 1)]), "suffix input is the target shifted", file: file, line: line)
        XCTAssertEqual(Array(row.lossMask[..<sep]), [Int32](repeating: 0, count: sep), file: file, line: line)
        let sample = Array(row.targets[..<division]) + row.targets[sep...]
        return DecodedRow(sample: sample, spanLengths: [n - sep], spanStarts: [division], maskID: row.tokens[division], isSuffix: true)
    }
    XCTAssertEqual(Array(row.positions[..<sep]), (0..<Int32(sep)).map { $0 }, "part-A positions", file: file, line: line)
    XCTAssertEqual(row.lossMask, [Int32](repeating: 0, count: sep) + [Int32](repeating: 1, count: n - sep), file: file, line: line)
    var blocks: [(position: Int32, tokens: [Int32])] = []
    for i in sep..<n {
        if row.blockPositions[i] == 1 {
            XCTAssertEqual(row.tokens[i], commands.sop, file: file, line: line)
            blocks.append((row.positions[i], []))
        } else {
            XCTAssertEqual(row.blockPositions[i], row.blockPositions[i - 1] + 1, "block positions count up", file: file, line: line)
            XCTAssertEqual(row.positions[i], blocks.last!.position, "part-B positions repeat the mask position", file: file, line: line)
        }
        if row.targets[i] != commands.eop {
            blocks[blocks.count - 1].tokens.append(row.targets[i])
            if i + 1 < n, row.tokens[i + 1] != commands.dBlock {
                XCTAssertEqual(row.tokens[i + 1], row.targets[i], "inside a block the input is the previous target", file: file, line: line)
            }
        }
    }
    var sample: [Int32] = []
    var startByPosition: [Int32: Int] = [:]
    var maskID: Int32?
    for j in 0..<sep {
        if blocks.contains(where: { $0.position == Int32(j) }) {
            let block = blocks.first { $0.position == Int32(j) }!
            if let m = maskID { XCTAssertEqual(row.tokens[j], m, "one mask kind per row", file: file, line: line) }
            maskID = row.tokens[j]
            XCTAssertEqual(row.targets[j], row.tokens[j], file: file, line: line)
            startByPosition[Int32(j)] = sample.count
            sample += block.tokens
        } else {
            sample.append(row.targets[j])
        }
    }
    XCTAssertEqual(startByPosition.count, blocks.count, "every part-B block has its mask in part A", file: file, line: line)
    return DecodedRow(sample: sample, spanLengths: blocks.map { $0.tokens.count },
                      spanStarts: blocks.map { startByPosition[$0.position] ?? -1 }, maskID: maskID, isSuffix: false)
}

/// A batcher over a synthetic corpus.
func makeBatcher(_ config: BlankInfillingConfig, documents: InMemoryDocuments? = nil, seed: UInt64 = 42) throws -> BlankInfillingBatcher {
    let store = documents ?? syntheticDocuments(lengths: syntheticLengths(count: 200, range: 20...300))
    let source = try PackedSampleSource(store: store, config: config, commands: testCommands, seed: seed)
    return try BlankInfillingBatcher(source: source, config: config, seed: seed)
}
