import GLMTokenizers

/// A split of a seq2seq task: its examples and the encoder, giving samples as the original's
/// dataset classes do. The blank task's training and dev samples mask random words with one
/// `random.Random(task.seed)` per dataset, consumed in ACCESS order: asking for the samples in another
/// order (or twice) gives other masks, exactly as in the original.
public struct Seq2SeqDataset: Sendable {
    public let encoder: Seq2SeqEncoder
    public let split: Seq2SeqSplit
    public let examples: [Seq2SeqExample]
    /// The masking generator (blank train/dev only).
    public var random: PythonRandom

    public var task: Seq2SeqTask { encoder.task }
    public var count: Int { examples.count }

    /// Reads the split from `dataDirectory` (see `Seq2SeqData.examples`).
    public init(task: Seq2SeqTask, split: Seq2SeqSplit, dataDirectory: String, tokenizer: any Tokenizer) throws {
        let encoder = try Seq2SeqEncoder(task: task, tokenizer: tokenizer)
        self.init(encoder: encoder, split: split,
                  examples: try Seq2SeqData.examples(task: task, split: split, dataDirectory: dataDirectory, tokenizer: tokenizer))
    }

    public init(encoder: Seq2SeqEncoder, split: Seq2SeqSplit, examples: [Seq2SeqExample]) {
        self.encoder = encoder
        self.split = split
        self.examples = examples
        self.random = PythonRandom(seed: encoder.task.seed)
    }

    /// `dataset[index]`.
    public mutating func sample(at index: Int) throws -> Seq2SeqSample {
        try encoder.encode(examples[index], split: split, random: &random)
    }

    /// Every sample in index order (what the fixtures record).
    public mutating func samples() throws -> [Seq2SeqSample] {
        var out: [Seq2SeqSample] = []
        out.reserveCapacity(examples.count)
        for i in examples.indices { out.append(try sample(at: i)) }
        return out
    }
}
