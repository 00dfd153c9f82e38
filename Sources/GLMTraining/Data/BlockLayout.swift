// The layout of one blank-infilling row, given the spans: a pure function, so tests can feed the spans
// seen in the original's samples and require the identical row.
//
// Layout (original `ConstructBlockStrategy.make_block_data`):
//   part A  = the sample with each span replaced by ONE mask token; part-A positions count that mask as
//             one token; block positions 0.
//   part B  = for each span, in the given (shuffled) order: [sop] + span tokens; position ids all equal
//             to the span's mask position; block positions 1 … n+1.
//   targets = part A copy, then for each span: span tokens + [eop].
//   loss mask 0 on part A, 1 on part B; sep = length of part A.

/// One sample before blanking: ENC + document tokens (+ eos …), as the packed-sample source yields it.
public struct PackedSample: Sendable, Equatable {
    public var tokens: [Int32]
    /// The original's per-token loss mask: 0 for inserted [CLS] tokens, 1 for text and eos.
    public var lossMask: [Int32]
    /// `SentenceEnd` flag byte of each token (0 for inserted command tokens).
    public var sentenceFlags: [UInt8]

    public init(tokens: [Int32], lossMask: [Int32], sentenceFlags: [UInt8]) {
        precondition(tokens.count == lossMask.count && tokens.count == sentenceFlags.count, "one mask and flag per token")
        self.tokens = tokens; self.lossMask = lossMask; self.sentenceFlags = sentenceFlags
    }

    public var count: Int { tokens.count }
}

/// One blank-infilling row, unpadded.
public struct BlockRow: Sendable, Equatable {
    public var tokens: [Int32]
    public var targets: [Int32]
    public var lossMask: [Int32]
    /// Row 0 of the original's 2-D `position_id`.
    public var positions: [Int32]
    /// Row 1 of the original's 2-D `position_id`.
    public var blockPositions: [Int32]
    /// Length of part A: every token attends to all of part A, part B is causal.
    public var sep: Int

    public var count: Int { tokens.count }
}

/// A half-open token range of a sample that is blanked.
public typealias BlankSpan = Range<Int>

public enum BlockLayout {
    /// Where things are in a laid-out row (needed by the random masking steps that follow layout).
    struct Parts {
        var row: BlockRow
        /// Unmasked text segments of part A, in row coordinates (the original's `local_spans`).
        var partASegments: [Range<Int>]
        /// Row index of each part-B block's `sop`, in part-B order.
        var blockStarts: [Int]
    }

    /// Lays out `tokens` with `spans` blanked. `spans` are in part-B order (the order the model fills
    /// them); part A always lists them in text order.
    ///
    /// - Throws: `BlockLayoutError` if a span is empty, out of range, or overlaps another.
    public static func blanks(tokens: [Int32], spans: [BlankSpan], maskID: Int32, sopID: Int32, eopID: Int32,
                              blockPositionEncoding: Bool = true) throws -> BlockRow {
        try layOut(tokens: tokens, spans: spans, maskID: maskID, sopID: sopID, eopID: eopID,
                   blockPositionEncoding: blockPositionEncoding).row
    }

    static func layOut(tokens: [Int32], spans: [BlankSpan], maskID: Int32, sopID: Int32, eopID: Int32,
                       blockPositionEncoding: Bool) throws -> Parts {
        let textOrder = spans.sorted { $0.lowerBound < $1.lowerBound }
        var previousEnd = 0
        for span in textOrder {
            if span.isEmpty || span.lowerBound < 0 || span.upperBound > tokens.count {
                throw BlockLayoutError.badSpan(span, length: tokens.count)
            }
            if span.lowerBound < previousEnd { throw BlockLayoutError.overlap(span) }
            previousEnd = span.upperBound
        }

        // Position of every sample token in part-A coordinates: a span counts as one token.
        var position = [Int32](repeating: 0, count: tokens.count)
        var isInsideSpan = [Bool](repeating: false, count: tokens.count)
        for span in spans { for i in (span.lowerBound + 1)..<span.upperBound { isInsideSpan[i] = true } }
        var p: Int32 = -1
        for i in 0..<tokens.count {
            if !isInsideSpan[i] { p += 1 }
            position[i] = p
        }

        var row = BlockRow(tokens: [], targets: [], lossMask: [], positions: [], blockPositions: [], sep: 0)
        let partBLength = spans.reduce(0) { $0 + $1.count + 1 }
        let total = tokens.count - spans.reduce(0) { $0 + $1.count } + spans.count + partBLength
        row.tokens.reserveCapacity(total); row.targets.reserveCapacity(total)
        row.positions.reserveCapacity(total); row.blockPositions.reserveCapacity(total)

        // Part A.
        var segments: [Range<Int>] = []
        var last = 0
        for span in textOrder {
            segments.append(row.tokens.count..<(row.tokens.count + span.lowerBound - last))
            row.tokens += tokens[last..<span.lowerBound]
            row.positions += position[last..<span.lowerBound]
            row.tokens.append(maskID)
            row.positions.append(position[span.lowerBound])
            last = span.upperBound
        }
        if last < tokens.count {
            segments.append(row.tokens.count..<(row.tokens.count + tokens.count - last))
            row.tokens += tokens[last...]
            row.positions += position[last...]
        }
        row.sep = row.tokens.count
        row.targets = row.tokens
        row.blockPositions = [Int32](repeating: 0, count: row.sep)

        // Part B.
        var blockStarts: [Int] = []
        for span in spans {
            blockStarts.append(row.tokens.count)
            row.tokens.append(sopID)
            row.tokens += tokens[span]
            row.targets += tokens[span]
            row.targets.append(eopID)
            let maskPosition = position[span.lowerBound]
            row.positions += [Int32](repeating: maskPosition, count: span.count + 1)
            row.blockPositions += blockPositionEncoding ? (1...Int32(span.count + 1)).map { $0 }
                                                        : [Int32](repeating: 1, count: span.count + 1)
        }
        row.lossMask = [Int32](repeating: 0, count: row.sep) + [Int32](repeating: 1, count: row.tokens.count - row.sep)
        return Parts(row: row, partASegments: segments, blockStarts: blockStarts)
    }

    /// The gpt-mode suffix layout (original `construct_blocks`, gpt branch with `division`):
    /// part A = tokens[..<division] + [gMASK]; part B = [sop] + tokens[division...] without its last
    /// token; targets = part A + tokens[division...]; loss mask = the sample's own loss mask on the
    /// suffix (0 on inserted [CLS]); positions of part B all `division`; block positions 0 on part A and
    /// 1…n on part B (the mask itself has block position 0).
    ///
    /// With `blockPositionEncoding == false` part B gets block position 1 everywhere (the original's
    /// code for that case builds one element too many and cannot run; this is its evident intent).
    public static func suffix(tokens: [Int32], lossMask: [Int32], division: Int, maskID: Int32, sopID: Int32,
                              blockPositionEncoding: Bool = true) throws -> BlockRow {
        guard division >= 0, division < tokens.count, tokens.count == lossMask.count else {
            throw BlockLayoutError.badSpan(division..<tokens.count, length: tokens.count)
        }
        let suffixLength = tokens.count - division
        var row = BlockRow(tokens: [], targets: [], lossMask: [], positions: [], blockPositions: [], sep: division + 1)
        row.tokens = Array(tokens[..<division]) + [maskID, sopID] + tokens[division..<(tokens.count - 1)]
        row.targets = Array(tokens[..<division]) + [maskID] + tokens[division...]
        row.lossMask = [Int32](repeating: 0, count: division + 1) + lossMask[division...]
        row.positions = (0...Int32(division)).map { $0 } + [Int32](repeating: Int32(division), count: suffixLength)
        row.blockPositions = [Int32](repeating: 0, count: division + 1)
            + (blockPositionEncoding ? (1...Int32(suffixLength)).map { $0 } : [Int32](repeating: 1, count: suffixLength))
        return row
    }
}

public enum BlockLayoutError: Error, CustomStringConvertible, Equatable {
    case badSpan(Range<Int>, length: Int)
    case overlap(Range<Int>)

    public var description: String {
        switch self {
        case .badSpan(let r, let n): return "span \(r) is empty or outside the sample of \(n) tokens"
        case .overlap(let r): return "span \(r) overlaps another span"
        }
    }
}

/// Right-pads rows with zeros to a common length, as the original's `pad_batch` (id 0, positions 0,
/// loss 0 — NOT the tokenizer's pad id; the loss mask hides them anyway).
public struct BlockBatch: Sendable, Equatable {
    public enum Mode: String, Sendable, Codable { case bert, sentence, gpt }

    public let mode: Mode
    /// Rows in this batch. Usually the requested batch size, but — as in the original — a bert-mode row
    /// whose spans do not fit is dropped, and `--short-seq-prob` splits every sample into several.
    public let batchSize: Int
    /// Padded row length (the longest row, or `minimumLength` if larger).
    public let length: Int
    /// [batchSize, length] row-major.
    public let tokens: [Int32]
    public let targets: [Int32]
    public let lossMask: [Int32]
    /// [batchSize, 2, length] row-major: positions, then block positions, for each row.
    public let positionIDs: [Int32]
    /// [batchSize]: length of part A of each row (the original's `attention_mask` for block LM).
    public let sep: [Int32]
    /// The rows before padding.
    public let rows: [BlockRow]

    public init(rows: [BlockRow], mode: Mode, minimumLength: Int = 0) {
        self.rows = rows
        self.mode = mode
        batchSize = rows.count
        let s = max(minimumLength, rows.map(\.count).max() ?? 0)
        length = s
        func padded(_ a: [Int32]) -> [Int32] { a + [Int32](repeating: 0, count: s - a.count) }
        tokens = rows.flatMap { padded($0.tokens) }
        targets = rows.flatMap { padded($0.targets) }
        lossMask = rows.flatMap { padded($0.lossMask) }
        positionIDs = rows.flatMap { padded($0.positions) + padded($0.blockPositions) }
        sep = rows.map { Int32($0.sep) }
    }

    /// Number of loss-bearing tokens (the loss is summed over these and divided by this count).
    public var lossTokenCount: Int { lossMask.reduce(0) { $0 + Int($1) } }
}
