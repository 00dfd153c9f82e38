import CGLMKernels

extension Tape {
    /// Activation recomputation ("checkpointing" in the original's --checkpoint-activations): runs `body`
    /// WITHOUT keeping its intermediate activations, and records one op whose backward runs `body` again on
    /// a recording tape and back-propagates through it. Memory for a transformer layer drops from all of
    /// its activations to its input; the price is one more forward of the layer in backward.
    ///
    /// - inputs: the variables `body` reads; it receives fresh leaves holding the same values.
    /// - parameters: variables `body` uses directly (e.g. the layer's weights): their gradients accumulate
    ///   in place during the recomputation, and they make the op recorded even if no input needs a gradient.
    /// Dropout inside `body` gets exactly the same masks in both runs (same seed and counter offset).
    public func recompute(_ name: String, inputs: [Variable], parameters: [Variable],
                          _ body: @escaping (Tape, [Variable]) throws -> Variable) throws -> Variable {
        guard isRecording else { return try body(self, inputs) }
        let started = profileStart()
        let offsetBefore = dropoutOffset
        let quiet = Tape(recording: false, training: false, backend: backend, dropoutSeed: dropoutSeed, compute: compute)
        quiet.profiler = profiler
        quiet.training = training
        quiet.dropoutOffset = offsetBefore
        quiet.dropoutRows = dropoutRows
        let value = try body(quiet, inputs.map { Variable($0.value) }).value
        dropoutOffset = quiet.dropoutOffset
        let training = self.training, seed = dropoutSeed, backend = self.backend, profiler = self.profiler
        let compute = self.compute
        let rows = dropoutRows
        return output(value, name, inputs: inputs + parameters, started: started) { _, dy in
            let replay = Tape(recording: true, training: training, backend: backend, dropoutSeed: seed, compute: compute)
            replay.profiler = profiler
            replay.dropoutOffset = offsetBefore
            replay.dropoutRows = rows
            let leaves = inputs.map { Variable($0.value, requiresGrad: $0.requiresGrad) }
            let out = try body(replay, leaves)
            guard out.requiresGrad else { return }
            try replay.backward(from: out, gradient: dy)
            for (input, leaf) in zip(inputs, leaves) where input.requiresGrad {
                guard let g = leaf.grad else { continue }
                let (target, accumulate) = input.gradTarget()
                if accumulate { glmk_add_inplace(target.floats, g.floats, g.count) } else { try target.copy(from: g) }
            }
        }
    }
}
