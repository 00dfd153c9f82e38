// The Engine module: tensors, the GEMM backend interface, coarse ops with hand-written backward passes,
// the autograd tape, the optimizer. Everything heavy runs in C: CKernels (SIMD loops) and CDNNL (oneDNN).
//
// Quick tour for model code
// -------------------------
//   let tape = Tape()                        // training: records ops; Tape.inference() records nothing
//   let w = Parameter(name: "dense.weight", value: Tensor.randomNormal([out, in], std: 0.02, seed: 1))
//   let x = Variable(tensor)                 // leaf (add requiresGrad: true to get x.grad)
//   let y = try tape.linear(x, weight: w, bias: b)          // x [..., in] → [..., out], W in nn.Linear layout
//   let a = try tape.layerNorm(y, weight: lnW, bias: lnB, eps: 1e-5)
//   let e = try tape.embeddingSum([(ids, wordEmb), (pos, posEmb), (blockPos, blockEmb)])
//   let mask = try AttentionMask.glm(seps: seps, batch: b, queryLength: s)        // [1 or b, s, s]
//   let ctx = try tape.attention(qkv: try tape.linear(a, weight: qkvW, bias: qkvB), heads: n, mask: mask)
//   let ce = try tape.crossEntropy(logits, targets: targets, lossMask: lossMask)  // ce.loss scalar, ce.perToken
//   try tape.backward(ce.loss)               // grads accumulate into Parameter.gradient
//   let (norm, scale) = clipGradNorm(params, maxNorm: 1); adamw.step(gradScale: scale); adamw.zeroGrad()
//
//   Tensor model parallelism (ModelParallelOps.swift; `group` is any ModelParallelCollectives, e.g. MPI):
//   let up = try tape.columnParallelLinear(x, weight: w1Rows, bias: b1Rows, group: group)   // output split
//   let y = try tape.rowParallelLinear(up, weight: w2Columns, bias: b2, group: group)       // summed, replicated
//   let e = try tape.vocabParallelEmbedding(ids, table: wordRows, group: group)
//   let ce = try tape.vocabParallelCrossEntropy(logitColumns, targets: t, lossMask: m, group: group)
//
// Ownership rules worth knowing
// -----------------------------
// * Tensor has reference semantics (views share storage); buffers come from BufferPool.shared and go back
//   when the last view dies, so steady-state training steps allocate no tensor buffers.
// * A Tape is single-use per step: backward consumes it (records are released while going backward).
// * crossEntropy's backward overwrites the logits buffer with the logits' gradient (no second [N × V]).
// * Transposes are GEMM flags or strides, never copies; Q/K/V are column blocks of the fused QKV output.
// * All matrix products go through `any GEMMBackend` (Tape.backend); oneDNN is the default backend.
