/// The result of the original's `tasks/eval_utils.py multichoice_evaluate` over encoded SuperGLUE samples.
///
/// Per sample (input order): the scores of its real choices, the masked scores over its evaluation
/// batch's padded width, and its prediction. Per example (`uids`, the first-occurrence order of the
/// samples' uids, as the original's `dataset.examples` dict): the prediction and label of the LAST
/// sample with that uid (the original keys its results by uid, so WSC train chunks sharing a guid
/// collapse to the last one). Metrics read the per-example arrays.
public struct ClozeEvaluation: Sendable, Equatable {
    public var scores: [[Double]]
    public var maskedScores: [[Double]]
    public var samplePredictions: [Int]
    public var uids: [String]
    public var predictions: [Int]
    public var labels: [Int]

    public init(scores: [[Double]], maskedScores: [[Double]], samplePredictions: [Int], uids: [String], predictions: [Int], labels: [Int]) {
        self.scores = scores; self.maskedScores = maskedScores; self.samplePredictions = samplePredictions
        self.uids = uids; self.predictions = predictions; self.labels = labels
    }

    /// The evaluation of already computed per-sample scores.
    /// - evalBatchSize: consecutive samples form one evaluation batch (the original's sequential loader);
    ///   a batch's samples are padded to its widest choice count.
    /// - wsc: the prediction is `1 if argmax == 0 else 0` (choice 0 is the span the pronoun refers to in
    ///   the label "True"), as the original does for the task `wsc`.
    public init(scores: [[Double]], labels sampleLabels: [Int], uids sampleUids: [String], evalBatchSize: Int = 16, wsc: Bool = false) {
        precondition(scores.count == sampleLabels.count && scores.count == sampleUids.count, "one score list, label and uid per sample")
        let size = max(evalBatchSize, 1)
        var masked: [[Double]] = []
        for start in stride(from: 0, to: scores.count, by: size) {
            let batch = scores[start..<min(scores.count, start + size)]
            let width = batch.map(\.count).max() ?? 0
            masked += batch.map { ClozePrediction.masked($0, width: width) }
        }
        let argmaxes = masked.map(ClozePrediction.argmax)
        let samplePredictions = argmaxes.map { wsc ? ($0 == 0 ? 1 : 0) : $0 }
        var order: [String] = [], last: [String: Int] = [:]
        for (i, uid) in sampleUids.enumerated() {
            if last[uid] == nil { order.append(uid) }
            last[uid] = i
        }
        self.init(scores: scores, maskedScores: masked, samplePredictions: samplePredictions, uids: order,
                  predictions: order.map { samplePredictions[last[$0]!] }, labels: order.map { sampleLabels[last[$0]!] })
    }

    /// Percent correct over the examples (`accuracy_metric`).
    public var accuracy: Double { ClassificationMetrics.accuracy(predictions: predictions, labels: labels) }
}

/// How `multichoice_evaluate` turns choice scores into a prediction.
public enum ClozePrediction {
    /// The scores padded to `width` as `my_collate` pads the choice dimension (copies of choice 0) and
    /// masked as the original: score·mask − 10000·(1 − mask), so a padding choice scores −10000.
    public static func masked(_ scores: [Double], width: Int) -> [Double] {
        (0..<max(width, scores.count)).map { c in c < scores.count ? scores[c] : scores[0] * 0 - 10000 }
    }

    /// The first index of the maximum (`torch.argmax`).
    public static func argmax(_ scores: [Double]) -> Int {
        var best = 0
        for i in scores.indices where scores[i] > scores[best] { best = i }
        return best
    }
}

extension ClozeScorer {
    /// Scores every sample and evaluates as `multichoice_evaluate` (see `ClozeEvaluation`).
    public func evaluate(_ samples: [ClozeSample], evalBatchSize: Int = 16, wsc: Bool = false) throws -> ClozeEvaluation {
        ClozeEvaluation(scores: try scores(samples), labels: samples.map(\.label), uids: samples.map(\.uid),
                        evalBatchSize: evalBatchSize, wsc: wsc)
    }
}
