import GLMEngine
import Foundation
import GLM
import GLMTokenizers
import XCTest
@testable import GLMGeneration

/// Sampling, beam blank filling, streaming, the JSON-lines protocol, errors and options — on the fixture
/// models (whose outputs depend on the context, so a wrong cache, seed or position shows).
final class GenerationBehaviourTests: GenerationTestCase {
    func sharpPrompts(_ model: String) throws -> [String] {
        try Fixtures.json("generate/\(model).json").list("greedy").map { $0.string("prompt")! }
    }

    // MARK: sampling

    func testSamplingIsSeededAndReproducibleOnBothPaths() throws {
        let g = try Fixtures.generator("glm-tiny-chinese-sharp")
        let prompts = try sharpPrompts("glm-tiny-chinese-sharp")
        func run(_ seed: UInt64, _ path: DecodingPath, _ p: [String]) throws -> [[Int]] {
            let o = GenerationOptions(strategy: .sample(SamplingOptions(temperature: 1.0, topK: 40)), maxLength: 10, seed: seed, path: path)
            return try g.generate(p, options: o).map { try $0.get().ids }
        }
        let a = try run(42, .kvCache, prompts)
        XCTAssertEqual(a, try run(42, .kvCache, prompts), "same seed, same ids")
        XCTAssertEqual(a, try run(42, .memory, prompts), "the memory path draws the same ids")
        XCTAssertNotEqual(a, try run(43, .kvCache, prompts), "another seed, other ids")
        // A prompt's sample does not depend on the rest of the batch.
        let alone = try run(42, .kvCache, [prompts[3]])
        XCTAssertEqual(alone[0], a[3])
        // And the samples are not greedy ones: at temperature 1 with top-k 40 some id differs.
        let greedy = try g.generate(prompts, options: GenerationOptions(maxLength: 10)).map { try $0.get().ids }
        XCTAssertNotEqual(a, greedy)
    }

    /// top_k = 1 sampling is what generate_samples.py ran for the fixtures: it must give their ids, and so
    /// must a vanishing top-p (only the most likely token survives).
    func testTopK1AndTinyTopPSamplingReproduceTheFixtures() throws {
        for model in ["glm-tiny-bert-sharp", "glm-tiny-bert-trained"] {
            let g = try Fixtures.generator(model)
            let cases = try Fixtures.json("generate/\(model).json").list("greedy")
            for sampling in [SamplingOptions(topK: 1), SamplingOptions(temperature: 0.7, topP: 1e-6)] {
                let o = GenerationOptions(strategy: .sample(sampling), maxLength: 10, seed: 5)
                let results = g.generate(cases.map { $0.string("prompt")! }, options: o)
                for (c, r) in zip(cases, results) {
                    XCTAssertEqual(try r.get().ids, ints(c["final_token_sequence"]), "\(model) \(sampling)")
                }
            }
        }
    }

    // MARK: beam search while filling blanks

    func testBeamBlankFillingSameOnBothPathsAndLaterBlanksSeeEarlierOnes() throws {
        let g = try Fixtures.generator("glm-tiny-bert-trained")
        let prompts = ["the pig is [MASK] . the owl says [MASK] .", "the white cow lives in the [MASK] and eats [MASK] .",
                       "[MASK] [MASK]", "the bear"]
        let beam = BeamSearchOptions(numBeams: 4, lengthPenalty: 0.7, selectTopK: true)
        let kv = g.generate(prompts, options: GenerationOptions(strategy: .beam(beam), maxLength: 8)).map { try? $0.get() }
        let mem = g.generate(prompts, options: GenerationOptions(strategy: .beam(beam), maxLength: 8, path: .memory)).map { try? $0.get() }
        XCTAssertEqual(kv.map { $0?.ids }, mem.map { $0?.ids })
        for r in kv { XCTAssertNotNil(r); XCTAssertTrue(r!.blanks.allSatisfy { $0.ids.count <= 8 }) }
        print("[beam blanks] " + kv.map { $0!.text }.joined(separator: " | "))
        // Blank 2 of a two-blank prompt equals a one-blank run whose context already holds blank 1's
        // sop + tokens at blank 1's positions — i.e. later blanks see the earlier ones.
        let two = kv[0]!
        let first = two.blanks[0]
        let f = g.filler(GenerationOptions(strategy: .beam(beam), maxLength: 8))
        let backend = f.makeBackend(rows: 1, capacity: 64)
        let ctx = two.contextIds
        _ = try backend.feed(ids: [ctx], positions: [ctx.indices.map { TokenPosition(position: $0, block: 0) }], mask: .sep([ctx.count]), logits: false)
        let fed = [g.specialTokens.sop] + first.ids
        _ = try backend.feed(ids: [fed], positions: [fed.indices.map { TokenPosition(position: first.maskPosition, block: $0 + 1) }], mask: .sep([0]), logits: false)
        let loop = BeamSearchLoop(options: beam, maxLength: 8, minLength: 0, noRepeatNGramSize: 0, sop: g.specialTokens.sop,
                                  endTokens: g.specialTokens.blankEndTokens, vocabularyLimit: g.model.config.vocabSize)
        let second = try loop.run(backend: backend, position: { TokenPosition(position: two.blanks[1].maskPosition, block: $0 + 1) })
        XCTAssertEqual(second.ids, two.blanks[1].ids)
    }

    func testNoRepeatNGramAndMinLengthAreHonoured() throws {
        let g = try Fixtures.generator("glm-tiny-bert")  // repeats one token forever when unconstrained
        let prompt = "The capital of France is [MASK]."
        let plain = try g.generate(prompt, options: GenerationOptions(maxLength: 10))
        XCTAssertEqual(Set(plain.blanks[0].ids).count, 1, "the random tiny model repeats itself")
        for strategy in [DecodingStrategy.greedy, .beam(BeamSearchOptions(numBeams: 3, selectTopK: true))] {
            let r = try g.generate(prompt, options: GenerationOptions(strategy: strategy, maxLength: 10, noRepeatNGramSize: 1))
            let ids = r.blanks[0].ids
            XCTAssertEqual(Set(ids).count, ids.count, "\(strategy): no 1-gram repeats")
            let r2 = try g.generate(prompt, options: GenerationOptions(strategy: strategy, maxLength: 10, noRepeatNGramSize: 2))
            let bigrams = zip(r2.blanks[0].ids, r2.blanks[0].ids.dropFirst()).map { [$0, $1] }
            XCTAssertEqual(Set(bigrams).count, bigrams.count, "\(strategy): no 2-gram repeats")
        }
        // The trained model ends "a bee has [MASK] legs ." after one token; min length 3 forbids that.
        let t = try Fixtures.generator("glm-tiny-bert-trained")
        let short = try t.generate("a bee has [MASK] legs .", options: GenerationOptions(maxLength: 10))
        XCTAssertEqual(short.blanks[0].ids.count, 1)
        let long = try t.generate("a bee has [MASK] legs .", options: GenerationOptions(maxLength: 10, minLength: 3))
        XCTAssertGreaterThanOrEqual(long.blanks[0].ids.count, 3)
    }

    // MARK: restricting to real tokens

    func testRestrictToRealTokens() throws {
        // A private copy of the trained model whose padding row 30591 is 10 × the row of "six" (2416): its
        // logit is then 10 × that of the fixture's answer, so the full-vocabulary argmax picks the padding id.
        let path = try Fixtures.require("models/glm-tiny-bert-trained")
        let g = try GLMGenerator.load(path)
        let e = g.model.word_embeddings.weight.value
        let h = g.model.config.hiddenSize, pad = g.model.config.vocabSize - 1
        for i in 0..<h { e.floats[pad * h + i] = 10 * e.floats[2416 * h + i] }
        g.model.word_embeddings.weight.markModified()  // written directly: drop the stale packed copies
        let g2 = try GLMGenerator(model: g.model, tokenizer: g.tokenizer)  // re-packs the edited weights
        let full = try g2.generate("a bee has [MASK] legs .", options: GenerationOptions(maxLength: 3))
        XCTAssertEqual(full.blanks[0].ids.first, pad, "the original can choose a padding id")
        let real = try g2.generate("a bee has [MASK] legs .", options: GenerationOptions(maxLength: 3, restrictToRealTokens: true))
        XCTAssertEqual(real.blanks[0].ids.first, 2416)
        XCTAssertTrue(real.blanks[0].ids.allSatisfy { $0 < g.tokenizer.numTokens })
    }

    // MARK: streaming

    func testStreamingYieldsEveryTokenThenTheResult() async throws {
        for model in ["glm-tiny-bert-sharp", "glm-tiny-chinese-sharp"] {
            let g = try Fixtures.generator(model)
            let prompt = try sharpPrompts(model)[1]  // two blanks
            let expected = try g.generate(prompt, options: GenerationOptions(maxLength: 10))
            var tokens: [[Int]] = [[], []], texts = ["", ""]
            var finished: GenerationResult? = nil
            var blanksDone = 0
            for try await event in g.stream(prompt, options: GenerationOptions(maxLength: 10)) {
                switch event {
                case let .token(_, blank, id, text): tokens[blank].append(id); texts[blank] += text
                case let .blankFinished(_, index, blank): XCTAssertEqual(blank, expected.blanks[index]); blanksDone += 1
                case let .finished(_, result): finished = result
                }
            }
            XCTAssertEqual(tokens, expected.blanks.map(\.ids), model)
            XCTAssertEqual(texts, expected.blanks.map(\.text), "\(model): streamed text pieces add up to each blank's text")
            XCTAssertEqual(blanksDone, 2)
            XCTAssertEqual(finished, expected)
        }
    }

    /// The stop check runs before every step (a stream's consumer leaving sets it).
    func testCancellationStopsAtTheNextStep() throws {
        let g = try Fixtures.generator("glm-tiny-bert")  // never ends a blank early
        let prepared = try g.prepare("The [MASK] of France is [MASK].", maxLength: 50)
        for strategy in [DecodingStrategy.greedy, .beam(BeamSearchOptions(numBeams: 2, selectTopK: true))] {
            var checks = 0, steps = 0
            var control = BlankFillingCallbacks()
            control.isCancelled = { checks += 1; return checks > 5 }
            control.onStepLogits = { _, _, _, _ in steps += 1 }
            XCTAssertThrowsError(try g.run([prepared], options: GenerationOptions(strategy: strategy, maxLength: 50), onEvent: nil, debug: control)) {
                XCTAssertEqual($0 as? GenerationError, .cancelled)
            }
            XCTAssertLessThanOrEqual(steps, 5, "\(strategy)")
        }
    }

    // MARK: models without block positions

    /// Without block positions the original shifts every context position after a mask by max length and
    /// numbers blank j's steps from its shifted mask position.
    func testPositionPlanWithoutBlockPositions() throws {
        let plan = PositionPlan(contextLength: 6, maskPositions: [1, 3], blockPositions: false, maxLength: 10)
        XCTAssertEqual(plan.context.map(\.position), [0, 1, 12, 13, 24, 25])
        XCTAssertEqual(plan.context.map(\.block), [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(plan.step(blank: 1, counter: 2), TokenPosition(position: 15, block: 0))
        XCTAssertEqual(plan.largestPosition(maxLength: 10), 25)
        let withBlocks = PositionPlan(contextLength: 6, maskPositions: [1, 3], blockPositions: true, maxLength: 10)
        XCTAssertEqual(withBlocks.context.map(\.position), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(withBlocks.step(blank: 1, counter: 2), TokenPosition(position: 3, block: 3))

        var config = GLMConfig(numLayers: 2, hiddenSize: 32, numAttentionHeads: 4, vocabSize: 30592, maxSequenceLength: 128,
                               blockPositionEncoding: false)
        config.initializerRange = 0.5  // sharp enough that outputs depend on the positions
        let model = try GLMModel.random(config: config, seed: 9)
        let tokenizer = try Fixtures.generator("glm-tiny-bert").tokenizer
        let g = try GLMGenerator(model: model, tokenizer: tokenizer)
        let prompt = "the [MASK] cat sat on the [MASK] ."
        let kv = try g.generate(prompt, options: GenerationOptions(maxLength: 6))
        let mem = try g.generate(prompt, options: GenerationOptions(maxLength: 6, path: .memory))
        XCTAssertEqual(kv.ids, mem.ids)
        XCTAssertEqual(kv.blanks.count, 2)
    }

    // MARK: JSON lines

    func testJSONLinesProtocol() throws {
        let g = try Fixtures.generator("glm-tiny-bert-sharp")
        let r = try g.generate("The [MASK] sat on the [MASK] and [MASK].", options: GenerationOptions(maxLength: 4))
        let line = GenerationJSONLines.line(for: r)
        XCTAssertFalse(line.contains("\n"))
        XCTAssertTrue(line.hasPrefix(#"{"prompt":"#) && line.contains(#","text":"#), "fields in the documented order: \(line)")
        let order = [#"{"prompt":"#, #","context_ids":["#, #","blanks":[{"#, #"}],"ids":["#, #"],"output":""#, #"","text":""#]
            .map { line.range(of: $0, options: .backwards)!.lowerBound }
        XCTAssertEqual(order, order.sorted())
        var tricky = r
        tricky.prompt = "quote \" backslash \\ newline \n tab \t bell \u{07} 清华 🙂 \u{2028} /"
        let back = try JSONSerialization.jsonObject(with: Data(GenerationJSONLines.line(for: tricky).utf8)) as! [String: Any]
        XCTAssertEqual(back["prompt"] as? String, tricky.prompt)
        let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        XCTAssertEqual(Set(obj.keys), ["prompt", "context_ids", "blanks", "ids", "output", "text"])
        XCTAssertEqual(obj["prompt"] as? String, r.prompt)
        XCTAssertEqual(ints(obj["context_ids"]), r.contextIds)
        XCTAssertEqual(ints(obj["ids"]), r.ids)
        XCTAssertEqual(obj["output"] as? String, r.output)
        XCTAssertEqual(obj["text"] as? String, r.text)
        let blanks = obj["blanks"] as! [[String: Any]]
        XCTAssertEqual(blanks.count, 3)
        XCTAssertEqual(Set(blanks[0].keys), ["mask_position", "ids", "text"])
        XCTAssertEqual(blanks.map { $0["mask_position"] as! Int }, r.blanks.map(\.maskPosition))
        XCTAssertEqual(blanks.map { ints($0["ids"]) }, r.blanks.map(\.ids))

        let none = try g.generate("Tsinghua University is located in [sMASK]", options: GenerationOptions(maxLength: 4))
        let w = try JSONSerialization.jsonObject(with: Data(GenerationJSONLines.line(for: none).utf8)) as! [String: Any]
        XCTAssertEqual((w["blanks"] as! [Any]).count, 0)
        XCTAssertTrue((w["warning"] as! String).contains("[sMASK]"))

        XCTAssertEqual(try GenerationJSONLines.prompt(fromLine: #"{"prompt": "a [MASK] b", "x": 1}"#).get(), "a [MASK] b")
        for bad in ["{", "[1, 2]", #"{"text": "x"}"#, #"{"prompt": 3}"#, "\"just a string\""] {
            guard case .failure(let e) = GenerationJSONLines.prompt(fromLine: bad) else { XCTFail(bad); continue }
            XCTAssertFalse(e.description.isEmpty)
        }
        let err = try JSONSerialization.jsonObject(with: Data(GenerationJSONLines.errorLine("boom", line: 7).utf8)) as! [String: Any]
        XCTAssertEqual(err["error"] as? String, "boom")
        XCTAssertEqual(err["line"] as? Int, 7)
    }

    // MARK: errors

    func testClearErrorsAndOneBadPromptNeverStopsABatch() throws {
        let g = try Fixtures.generator("glm-tiny-bert-trained")
        XCTAssertThrowsError(try g.generate("   ")) { XCTAssertEqual($0 as? GenerationError, .emptyPrompt) }
        let long = Array(repeating: "the cat", count: 80).joined(separator: " ") + " [MASK]"
        XCTAssertThrowsError(try g.generate(long)) { e in
            guard case .promptTooLong(let n, let limit)? = e as? GenerationError else { return XCTFail("\(e)") }
            XCTAssertEqual(limit, 128)
            XCTAssertGreaterThanOrEqual(n, 128)
            XCTAssertTrue("\(e)".contains("128 positions"))
        }
        for bad in [GenerationOptions(maxLength: 0), GenerationOptions(minLength: -1),
                    GenerationOptions(strategy: .sample(SamplingOptions(temperature: 0))),
                    GenerationOptions(strategy: .sample(SamplingOptions(topP: 1.5))),
                    GenerationOptions(strategy: .beam(BeamSearchOptions(numBeams: 0)))] {
            XCTAssertThrowsError(try g.generate("a [MASK] .", options: bad)) { XCTAssertTrue("\($0)".contains("invalid generation options")) }
        }
        let batch = g.generate(["a bee has [MASK] legs .", "", long, "the cat is [MASK] ."], options: GenerationOptions(maxLength: 10))
        XCTAssertEqual(try batch[0].get().blanks[0].ids, [2416])
        XCTAssertThrowsError(try batch[1].get())
        XCTAssertThrowsError(try batch[2].get())
        XCTAssertEqual(try batch[3].get().blanks[0].ids, [2751])
        // A max length beyond the block-position table is clamped to it (128 here), not an error.
        XCTAssertEqual(try g.generate("black black black [MASK]", options: GenerationOptions(maxLength: 1000)).ids,
                       try g.generate("black black black [MASK]", options: GenerationOptions(maxLength: 128)).ids)
        // A mask token the tokenizer lacks: nothing generated, a warning naming it.
        let r = try g.generate("the bee lives in the [gMASK]", options: GenerationOptions(maxLength: 10))
        XCTAssertEqual(r.blanks, [])
        XCTAssertEqual(r.output, "")
        XCTAssertTrue(r.warning!.contains("[gMASK]") && r.warning!.contains("glm-large"), r.warning!)
        XCTAssertThrowsError(try g.seq2seqBeamSearch(sourceIds: [101, 103], maskPosition: 1, options: GenerationOptions()))
    }

    func testFilledTextAndOutputFormat() throws {
        let g = try Fixtures.generator("glm-tiny-bert-trained")
        let r = try g.generate("the pig is [MASK] . the owl says [MASK] .", options: GenerationOptions(maxLength: 10))
        XCTAssertEqual(r.text, "the pig is white . the owl says moo .")
        XCTAssertEqual(r.output, "<|startofpiece|> white <|startofpiece|> moo")
        XCTAssertEqual(r.blanks.map(\.text), ["white", "moo"])
        XCTAssertEqual(r.blanks.map(\.stop), [.endToken, .endToken])
        let c = try Fixtures.generator("glm-tiny-chinese-sharp")
        let gm = try c.generate("请写一首关于春天的诗：[gMASK]", options: GenerationOptions(maxLength: 10))
        XCTAssertEqual(gm.contextIds.last, c.tokenizer.commandToken(.gMASK), "no eos after a final [gMASK]")
        XCTAssertTrue(gm.text.hasPrefix("请写一首关于春天的诗"), gm.text)  // SentencePiece normalises "：" to ":"
        XCTAssertTrue(gm.text.hasSuffix(String(gm.blanks[0].text.suffix(4))), "\(gm.text) ends with the blank \(gm.blanks[0].text)")
    }

    func testDefaultModelMissingIsAClearError() throws {
        if FileManager.default.fileExists(atPath: DefaultModel.packagePath) { return }  // provided: nothing to check
        XCTAssertThrowsError(try DefaultModel.path()) { e in
            XCTAssertTrue("\(e)".contains("the built-in default model is not available yet"), "\(e)")
        }
    }

    // MARK: bf16 decoding weights

    /// bf16-packed weights (half the bytes per token) change logits by ~1e-2; the trained model's greedy
    /// margins (≥ 0.0875, end decisions ≥ 0.58) are wider, so it must still give every fixture id. (The
    /// sharp models' margins go down to 0.0066: there bf16 changes some blanks, as expected.)
    func testBFloat16WeightsKeepTheTrainedModelsIds() throws {
        let model = "glm-tiny-bert-trained"
        let g = try GLMGenerator.load(try Fixtures.require("models/\(model)"), packedWeights: .bfloat16)
        let cases = try Fixtures.json("generate/\(model).json").list("greedy")
        let results = g.generate(cases.map { $0.string("prompt")! }, options: GenerationOptions(maxLength: 10))
        for (c, r) in zip(cases, results) {
            XCTAssertEqual(try r.get().ids, ints(c["final_token_sequence"]), c.string("prompt")!)
        }
    }

}
