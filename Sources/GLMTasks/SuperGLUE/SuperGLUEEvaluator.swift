import GLM

/// The result of evaluating one SuperGLUE split: the task's metrics (the original's `DEFAULT_METRICS`, in
/// its order and units: accuracy ×100, F1 as a fraction, ReCoRD EM/F1 ×100) and the per-guid predictions.
public struct SuperGLUEEvaluation: Sendable {
    public var task: SuperGLUETask
    public var split: SuperGLUESplit
    /// Metric names in the original's order with their values.
    public var metrics: [(name: String, value: Double)]
    /// Scores, predictions and labels per sample and per guid (`multichoice_evaluate`).
    public var cloze: ClozeEvaluation
    /// Examples evaluated: unique guids (WSC chunks sharing a guid count once, as in the original).
    public var examples: Int { cloze.predictions.count }
}

/// Evaluation of a SuperGLUE split as the original's `finetune.py` runs it after an epoch (or alone,
/// with `--epochs 0`): the split encoded with the task's PVP (`SuperGLUEDataset`), scored by the cloze
/// model of the settings (`ClozeScorer`, with the settings' length penalty), `multichoice_evaluate`
/// (WSC's inverted prediction included) and the task's metrics.
public enum SuperGLUEEvaluator {
    /// `promptEncoder`: the continuous prompts of a P-tuned model (needed when the dataset has prompt tokens).
    public static func evaluate(_ dataset: SuperGLUEDataset, model: GLMModel, evalBatchSize: Int = 16,
                                promptEncoder: PromptEncoder? = nil) throws -> SuperGLUEEvaluation {
        let scorer = try ClozeScorer(model: model, lengthPenalty: dataset.settings.lengthPenalty)
        scorer.promptEncoder = promptEncoder
        let cloze = try scorer.evaluate(dataset.samples, evalBatchSize: evalBatchSize, wsc: dataset.settings.task == .wsc)
        let metrics = try SuperGLUEMetrics.compute(task: dataset.settings.task.rawValue, predictions: cloze.predictions,
                                                   labels: cloze.labels, examples: metricExamples(dataset, uids: cloze.uids))
        return SuperGLUEEvaluation(task: dataset.settings.task, split: dataset.split, metrics: metrics, cloze: cloze)
    }

    /// The metadata MultiRC (question index) and ReCoRD (candidates, answers) score with: for each
    /// evaluated guid, its LAST example (the original's evaluation dict keeps the last sample of a guid).
    static func metricExamples(_ dataset: SuperGLUEDataset, uids: [String]) -> [SuperGLUEMetricExample] {
        var last: [String: SuperGLUEExample] = [:]
        for (sample, example) in zip(dataset.samples, dataset.examples) { last[sample.uid] = example }
        return uids.map { uid in
            let meta = last[uid]?.meta ?? [:]
            return SuperGLUEMetricExample(questionIdx: meta["question_idx"]?.int, candidates: meta["candidates"]?.strings ?? [],
                                          answers: meta["answers"]?.strings ?? [])
        }
    }
}
