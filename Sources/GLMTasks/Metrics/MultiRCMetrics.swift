/// MultiRC's exact match, the original's `tasks/superglue/evaluate.py multirc_em`.
public enum MultiRCMetrics {
    /// The fraction of questions whose answers are ALL predicted right. Answers are grouped by
    /// `questionIds` ONLY (as the original: two passages reusing a question idx form one group), each
    /// group's labels and predictions compared as lists in input order.
    public static func exactMatch(predictions: [Int], labels: [Int], questionIds: [Int]) -> Double {
        precondition(predictions.count == labels.count && labels.count == questionIds.count, "one prediction, label and question per answer")
        var actual: [Int: [Int]] = [:], predicted: [Int: [Int]] = [:]
        for (q, (p, l)) in zip(questionIds, zip(predictions, labels)) {
            actual[q, default: []].append(l)
            predicted[q, default: []].append(p)
        }
        guard !actual.isEmpty else { return 0 }
        let matches = actual.keys.filter { actual[$0] == predicted[$0] }.count
        return Double(matches) / Double(actual.count)
    }
}
