/// The classification metrics of the original's `tasks/eval_utils.py`: `accuracy_metric` and
/// scikit-learn 1.2's `f1_score` (binary for `f1_metric`, macro for `f1_macro_metric`), with sklearn's
/// arithmetic: precision = tp / predicted, recall = tp / true (0 when the denominator is 0, where
/// sklearn warns), F1 = 2·precision·recall / (precision + recall) (0 when both are 0).
public enum ClassificationMetrics {
    /// Percent correct: correct × 100 / max(count, 1).
    public static func accuracy(predictions: [Int], labels: [Int]) -> Double {
        precondition(predictions.count == labels.count, "one prediction per label")
        let correct = zip(predictions, labels).filter { $0 == $1 }.count
        return Double(correct) * 100.0 / Double(max(predictions.count, 1))
    }

    /// `f1_score(labels, predictions)`: binary F1 of the positive label 1, as a fraction.
    public static func f1(predictions: [Int], labels: [Int], positive: Int = 1) -> Double {
        precondition(predictions.count == labels.count, "one prediction per label")
        return f1(of: positive, predictions: predictions, labels: labels)
    }

    /// `f1_score(labels, predictions, average='macro')`: the unweighted mean of the per-label F1 over
    /// every label that occurs in the labels OR the predictions (sorted); a label never predicted has
    /// F1 0 and still counts. Labels in neither are not counted.
    public static func macroF1(predictions: [Int], labels: [Int]) -> Double {
        precondition(predictions.count == labels.count, "one prediction per label")
        let present = Set(labels).union(predictions).sorted()
        guard !present.isEmpty else { return 0 }
        var sum = 0.0
        for l in present { sum += f1(of: l, predictions: predictions, labels: labels) }
        return sum / Double(present.count)
    }

    static func f1(of label: Int, predictions: [Int], labels: [Int]) -> Double {
        var tp = 0, predicted = 0, actual = 0
        for (p, t) in zip(predictions, labels) {
            if p == label { predicted += 1 }
            if t == label { actual += 1 }
            if p == label && t == label { tp += 1 }
        }
        let precision = predicted == 0 ? 0 : Double(tp) / Double(predicted)
        let recall = actual == 0 ? 0 : Double(tp) / Double(actual)
        let denominator = precision + recall
        return 2 * precision * recall / (denominator == 0 ? 1 : denominator)
    }
}
