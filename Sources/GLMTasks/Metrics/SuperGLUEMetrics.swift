/// What the metrics need of an evaluated example beyond its prediction and label (the original's
/// `InputExample.meta`): MultiRC's `question_idx`, ReCoRD's `candidates` and gold `answers`.
public struct SuperGLUEMetricExample: Sendable, Equatable {
    public var questionIdx: Int?
    public var candidates: [String]
    public var answers: [String]

    public init(questionIdx: Int? = nil, candidates: [String] = [], answers: [String] = []) {
        self.questionIdx = questionIdx; self.candidates = candidates; self.answers = answers
    }
}

public enum SuperGLUEMetricsError: Error, CustomStringConvertible, Equatable {
    case unknownTask(String)
    case input(String)
    public var description: String {
        switch self {
        case .unknownTask(let t): return "metrics: no metrics for the task \"\(t)\""
        case .input(let m): return "metrics: \(m)"
        }
    }
}

/// The original's `tasks/superglue/finetune.py DEFAULT_METRICS`: per task, named metrics in order.
/// Accuracy is a percentage; `f1a`, `f1-macro` and MultiRC's `em` are fractions; ReCoRD's `EM`/`F1`
/// are percentages.
public enum SuperGLUEMetrics {
    /// The metric names of `task` (lower-cased), or nil for a task the original does not list.
    public static func names(task: String) -> [String]? {
        switch task.lowercased() {
        case "record": return ["EM", "F1"]
        case "cb": return ["accuracy", "f1-macro"]
        case "multirc": return ["f1a", "em", "acc"]
        case "copa", "rte", "boolq", "wic", "wsc", "mnli", "sst2", "qnli", "qqp", "mrpc", "cola", "squad",
             "afqmc", "tnews", "cluewsc", "cmrc", "multichoice":
            return ["accuracy"]
        default: return nil
        }
    }

    /// Every metric of `task` over per-example predictions and labels (as `ClozeEvaluation` gives them)
    /// and the examples' metadata (needed by MultiRC and ReCoRD only; one per prediction there).
    public static func compute(task: String, predictions: [Int], labels: [Int],
                               examples: [SuperGLUEMetricExample] = []) throws -> [(name: String, value: Double)] {
        guard let names = names(task: task) else { throw SuperGLUEMetricsError.unknownTask(task) }
        guard predictions.count == labels.count else {
            throw SuperGLUEMetricsError.input("\(predictions.count) predictions for \(labels.count) labels")
        }
        let t = task.lowercased()
        if t == "multirc" || t == "record", examples.count != predictions.count {
            throw SuperGLUEMetricsError.input("\(t) needs one example per prediction, got \(examples.count) for \(predictions.count)")
        }
        return try names.map { name -> (name: String, value: Double) in
            switch (t, name) {
            case ("record", "EM"), ("record", "F1"):
                for (i, (p, e)) in zip(predictions, examples).enumerated() where !e.answers.isEmpty && !e.candidates.indices.contains(p) {
                    throw SuperGLUEMetricsError.input("example \(i): prediction \(p) is not one of its \(e.candidates.count) candidates")
                }
                let c = examples.map(\.candidates), a = examples.map(\.answers)
                return (name, name == "EM" ? ReCoRDMetrics.exactMatch(predictions: predictions, candidates: c, answers: a)
                                           : ReCoRDMetrics.f1(predictions: predictions, candidates: c, answers: a))
            case (_, "f1-macro"): return (name, ClassificationMetrics.macroF1(predictions: predictions, labels: labels))
            case (_, "f1a"): return (name, ClassificationMetrics.f1(predictions: predictions, labels: labels))
            case ("multirc", "em"):
                let q = try examples.enumerated().map { i, e in
                    guard let q = e.questionIdx else { throw SuperGLUEMetricsError.input("example \(i) has no question idx") }
                    return q
                }
                return (name, MultiRCMetrics.exactMatch(predictions: predictions, labels: labels, questionIds: q))
            default: return (name, ClassificationMetrics.accuracy(predictions: predictions, labels: labels))
            }
        }
    }
}
