// The random batch of the benchmark recipe (bench/README.md). It lives here, next to ModelBatch, because
// block rows are only built inside this module; GLMBenchmarks reaches it through `RecipeWorkload`.
import GLMEngine

extension ModelBatch {
    /// The benchmark recipe's batch: sep = S/2 for every row (part A bidirectional, positions i and block
    /// position 0; part B positions sep − 1 and block positions 1…S − sep), ids and targets uniform in
    /// [0, V) drawn from `seed` + 7 (row by row: S ids, then S targets), loss mask on part B.
    public static func benchmarkRecipe(batchSize b: Int, seqLength s: Int, vocab: Int, seed: UInt64) throws -> ModelBatch {
        let sep = s / 2
        var g = SeededGenerator(seed: seed &+ 7)
        var rows: [BlockRow] = []
        for _ in 0..<b {
            let tokens = (0..<s).map { _ in Int32(g.next() % UInt64(vocab)) }
            let targets = (0..<s).map { _ in Int32(g.next() % UInt64(vocab)) }
            rows.append(BlockRow(tokens: tokens, targets: targets, lossMask: (0..<s).map { $0 < sep ? 0 : 1 },
                                 positions: (0..<s).map { Int32($0 < sep ? $0 : sep - 1) },
                                 blockPositions: (0..<s).map { Int32($0 < sep ? 0 : $0 - sep + 1) }, sep: sep))
        }
        return try ModelBatch(BlockBatch(rows: rows, mode: .bert))
    }
}
