// What the batches blank, measured from their rows: for `glm data sample --stats` and training logs.

/// Running totals over batches.
public struct BlankingStatistics: Sendable, CustomStringConvertible {
    public var batches = 0
    public var rows = 0
    public var batchesByMode: [BlockBatch.Mode: Int] = [:]
    /// Tokens of the samples before blanking.
    public var sampleTokens = 0
    /// Tokens moved to part B (predicted).
    public var blankedTokens = 0
    public var spans = 0
    /// Row tokens before / after padding.
    public var rowTokens = 0
    public var paddedTokens = 0

    public init() {}

    public mutating func add(_ batch: BlockBatch, commands: CommandTokenIDs) {
        batches += 1
        batchesByMode[batch.mode, default: 0] += 1
        rows += batch.batchSize
        paddedTokens += batch.batchSize * batch.length
        for row in batch.rows {
            let n = row.count, sep = row.sep
            rowTokens += n
            if sep == n {
                sampleTokens += n
            } else if row.targets[n - 1] != commands.eop {   // gpt suffix layout: one span, no eop
                spans += 1
                blankedTokens += n - sep
                sampleTokens += sep - 1 + (n - sep)
            } else {
                let blocks = row.tokens[sep...].reduce(0) { $0 + ($1 == commands.sop ? 1 : 0) }
                let blanked = n - sep - blocks
                spans += blocks
                blankedTokens += blanked
                sampleTokens += sep - blocks + blanked
            }
        }
    }

    public var blankedShare: Double { sampleTokens > 0 ? Double(blankedTokens) / Double(sampleTokens) : 0 }
    public var meanSpanLength: Double { spans > 0 ? Double(blankedTokens) / Double(spans) : 0 }

    public var description: String {
        let modes = [BlockBatch.Mode.bert, .sentence, .gpt].map { m in
            "\(m.rawValue) \(String(format: "%.3f", batches > 0 ? Double(batchesByMode[m, default: 0]) / Double(batches) : 0))"
        }.joined(separator: ", ")
        return """
        batches \(batches), rows \(rows); objectives: \(modes)
        blanked share \(String(format: "%.4f", blankedShare)) of \(sampleTokens) sample tokens, \(spans) spans, mean span length \(String(format: "%.3f", meanSpanLength))
        padding overhead \(String(format: "%.3f", paddedTokens > 0 ? 1 - Double(rowTokens) / Double(paddedTokens) : 0))
        """
    }
}
