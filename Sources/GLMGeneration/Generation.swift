// The Generation module: blank filling with GLM, exactly as THUDM/GLM's generate_samples.py and the
// seq2seq evaluator (tasks/seq2seq/evaluate.py) do it, on a K/V cache.
//
//   GLMGenerator          load once (model + tokenizer + packed weights), generate many times:
//                         generate(prompt) / generate(prompts) (batched) / stream(prompt) (AsyncThrowingStream)
//                         / seq2seqBeamSearch(source ids) / seq2seqBeamSearch(sources:) (batched, ragged)
//                         ; prepare(prompt) for the checks
//   ContinuousBatchDecoder rows join and leave a running decode batch (glm serve), one K/V cache per row
//   DecodingWeightsQuality top-1 agreement of bf16/int8 decoding weights with fp32 (glm bench weights)
//   GLMModelInputs        the HF tokenizer's build_inputs_for_generation (with targets/labels)
//   GenerationOptions     strategy (greedy | sample | beam), max/min length, no-repeat n-gram, seed,
//                         real tokens only, decoding path (K/V cache | the original's memories)
//   GenerationResult      per blank ids + text, the final token sequence, the original's printed output,
//                         the filled-in text, a warning when nothing could be filled
//   GenerationJSONLines   the `glm generate --jsonl` protocol
//   DefaultModel          where the built-in default model lives (one constant)
//
// Internals: BlankFiller + BlankRowState (the per-blank loops and per-row rules), BeamSearchState (one
// source's beam step) driven by BeamSearchLoop or the batched search, BeamSearchScorer/BeamHypotheses (the
// original's scorer), LogitsProcessing (argmax, top_k_logits, torch-like log-softmax, constraints),
// DecodingBackend (KVCacheBackend, MemoryBackend).
