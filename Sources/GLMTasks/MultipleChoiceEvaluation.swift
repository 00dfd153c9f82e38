/// The result of `tasks/eval_utils.py multichoice_evaluate` + `accuracy_metric` over a data set.
public struct MultipleChoiceEvaluation: Sendable, Equatable {
    /// Per item, in file order (the item index is the original's `uid`).
    public var scores: [[Double]]
    public var predictions: [Int]
    public var labels: [Int]

    public init(scores: [[Double]], predictions: [Int], labels: [Int]) {
        self.scores = scores
        self.predictions = predictions
        self.labels = labels
    }

    public var examples: Int { labels.count }
    public var correct: Int { zip(predictions, labels).filter { $0 == $1 }.count }
    /// Percent, as the original's `accuracy_metric` (correct × 100 / max(examples, 1)).
    public var accuracy: Double { Double(correct) * 100.0 / Double(max(examples, 1)) }
}

extension MultipleChoiceScorer {
    /// Encodes and scores every item; the prediction is the argmax over the item's own choices. (The
    /// original also pads the choice dimension of a batch with copies scored −10000, which can only
    /// win if every real score is below −10000.)
    public func evaluate(_ items: [MultipleChoiceItem]) throws -> MultipleChoiceEvaluation {
        let samples = try items.enumerated().map { i, item in
            do { return try encoder.encode(item) } catch { throw MultipleChoiceError.input("item \(i): \(error)") }
        }
        let scores = try score(samples)
        return MultipleChoiceEvaluation(scores: scores, predictions: scores.map(Self.argmax), labels: items.map(\.label))
    }
}
