// The fine-tuning checkpoint of a tensor-model-parallel run: WHY one-process files and not per-rank
// mp_rank_XX ones — the checkpoint of a fine-tuning run is a single folder that `--resume` reads on ANY
// number of processes; writing the whole model (the partitions gathered over the model-parallel group)
// keeps that folder identical to a one-process run's, so a run resumes at any model-parallel size (each
// rank takes its `ModelParallel.split` partition on reading, see `FinetuneCheckpoint.restore`). The cost:
// during a save the ranks of the gathering group each hold the whole model, its moments and the best weights.
import GLM
import GLMCheckpoint
import GLMEngine

extension FinetuneCheckpoint {
    /// The run's state as one process holds it. With a model split over a model-parallel group this is a
    /// collective over that group: the weights, the best epoch's weights and the AdamW moments (this
    /// rank's partitions, full over its data-parallel group) are gathered, and `writer` (global rank 0)
    /// gets them as a whole model; the other ranks get nil. One process: the arguments unchanged.
    static func whole(model: GLMModel, best: FinetuneBest?, moments: (expAvg: [Tensor], expAvgSq: [Tensor]), writer: Bool) throws
        -> (model: GLMModel, best: FinetuneBest?, moments: (expAvg: [Tensor], expAvgSq: [Tensor]))? {
        guard model.modelParallel != nil else { return writer ? (model, best, moments) : nil }
        let params = model.parameters
        let weights = try model.gatherFull(params.map(\.value))
        let expAvg = try model.gatherFull(moments.expAvg), expAvgSq = try model.gatherFull(moments.expAvgSq)
        var wholeBest = best
        if let best {
            precondition(best.weights.count == params.count, "model parallel: the kept parameters are the model's")
            let parts = try zip(params, best.weights).map { try Tensor(shape: $0.shape, values: $1) }
            wholeBest?.weights = try model.gatherFull(parts).map { $0.toFloats() }
        }
        guard writer else { return nil }
        var dict = StateDict()
        for (p, t) in zip(params, weights) { dict[p.name] = TensorData(float32: t.toFloats(), shape: t.shape) }
        return (try GLMModel(config: model.config, stateDict: dict), wholeBest, (expAvg, expAvgSq))
    }

    /// `values` of the whole tensor `name` as this rank holds it: its model-parallel partition (the
    /// checkpoint holds whole tensors, whatever size the run that wrote it had), or all of it in one process.
    static func part(_ values: [Float], shape: [Int], name: String, of model: GLMModel) throws -> (values: [Float], shape: [Int]) {
        guard let group = model.modelParallel else { return (values, shape) }
        let part = try GLMModel.partition(try Tensor(shape: shape, values: values), name: name, rank: group.rank, of: group.size)
        return (part.toFloats(), part.shape)
    }
}
