import Foundation
import XCTest
import GLM
@testable import GLMEngine
import GLMTestSupport
import GLMTokenizers
import GLMTraining
@testable import GLMTasks

/// Continuous prompts (P-tuning, the original's `--continuous-prompt --num-prompt-tokens N`, `PromptSpell`,
/// `--freeze-transformer`) on the tiny fixture model and the SuperGLUE fixture tasks.
final class PTuningTests: XCTestCase {
    func model() throws -> GLMModel { try GLMModel.load(try Fixtures.require("models/glm-tiny-bert")) }

    func fixture(_ task: SuperGLUETask) throws -> (settings: SuperGLUESettings, tokenizer: GLMTokenizer, examples: (SuperGLUESplit) throws -> [SuperGLUEExample]) {
        let file = try SuperGLUEFixtures.file(task.rawValue)
        let s = (file["settings"] as! [[String: Any]]).first { ($0["model_for_scores"] as? String) == "glm-tiny-bert" }!
        let path = try SuperGLUEFixtures.inputPath(task.rawValue)
        let processor = SuperGLUEProcessor(task: task)
        return (try SuperGLUEFixtures.settings(task, s), try SuperGLUEFixtures.tokenizer(s["tokenizer"] as! String),
                { try processor.examples(file: path, split: $0) })
    }

    func prompted(_ s: SuperGLUESettings, _ n: Int, pattern: Int? = nil) -> SuperGLUESettings {
        var p = s
        p.continuousPrompt = true
        p.numPromptTokens = n
        if let pattern { p.patternId = pattern }
        return p
    }

    /// The row without its prompt tokens is the plain row (same ids up to eos), and the prompt tokens
    /// are id 0 at `promptPositions`.
    func checkStripped(_ row: ClozeSample.Row, plain: ClozeSample.Row, file: StaticString = #filePath, line: UInt = #line) {
        for p in row.promptPositions { XCTAssertEqual(row.ids[p], 0, file: file, line: line) }
        let kept = row.ids.prefix(row.sep).enumerated().filter { !row.promptPositions.contains($0.offset) }.map(\.element)
        XCTAssertEqual(kept, Array(plain.ids.prefix(plain.sep)), file: file, line: line)
        XCTAssertEqual(row.sep, plain.sep + row.promptPositions.count, file: file, line: line)
    }

    /// RTE pattern 0 is `[None, '"', b, '" ?'] || [None, [MASK], ',', None, ' "', a, '"']` (pvp.py RtePVP):
    /// 3 placeholders, `replace_prompt_tokens` gives ⌈N/3⌉ each in order until N runs out.
    func testRTEPromptLayout() throws {
        let f = try fixture(.rte)
        let ex = try f.examples(.dev)[0]
        let plain = try ClozeEncoder(tokenizer: f.tokenizer, settings: f.settings, split: .dev).encode(ex).sample.rows[0]
        XCTAssertEqual(plain.promptPositions, [])
        let mask = f.tokenizer.commandToken(.MASK)!
        let comma = f.tokenizer.encode(",").count
        for (n, counts) in [(3, [1, 1, 1]), (5, [2, 2, 1]), (2, [1, 1, 0]), (7, [3, 3, 1])] {
            XCTAssertEqual(PatternVerbalizer.promptCounts(tokens: n, slots: 3), counts)
            for pattern in [0, 1, 2, 3] {
                let row = try ClozeEncoder(tokenizer: f.tokenizer, settings: prompted(f.settings, n, pattern: pattern), split: .dev).encode(ex).sample.rows[0]
                let plainRow = try ClozeEncoder(tokenizer: f.tokenizer, settings: { var s = f.settings; s.patternId = pattern; return s }(), split: .dev)
                    .encode(ex).sample.rows[0]
                checkStripped(row, plain: plainRow)
                XCTAssertEqual(row.promptPositions.count, n)
                let m = row.ids.firstIndex(of: mask)!
                // A's placeholder right after [CLS]; B's first right before [MASK]; B's second after [MASK] and its
                // punctuation (pattern 0 ',' — pattern 2 '. "' is one part too).
                XCTAssertEqual(Array(row.promptPositions.prefix(counts[0])), Array(1...counts[0]), "n \(n) pattern \(pattern)")
                XCTAssertEqual(Array(row.promptPositions[counts[0]..<(counts[0] + counts[1])]), Array((m - counts[1])..<m))
                if counts[2] > 0, pattern == 0 {
                    XCTAssertEqual(row.promptPositions.last, m + comma + counts[2])
                }
            }
        }
        // Pattern 4: [None, a, None, ' question:', b, ' True or False?', None, ' answer:', [MASK]].
        let row4 = try ClozeEncoder(tokenizer: f.tokenizer, settings: prompted(f.settings, 3, pattern: 4), split: .dev).encode(ex).sample.rows[0]
        let m4 = row4.ids.firstIndex(of: mask)!
        XCTAssertEqual(row4.promptPositions.first, 1)
        XCTAssertEqual(row4.promptPositions.last, m4 - 1 - f.tokenizer.encode(" answer:").count)
    }

    /// COPA pattern 0 is `[None, '"', c1, '" or "', c2, '"?', None, premise, joiner, None, [MASK], '.']`:
    /// every choice row gets the same prompt tokens; the last placeholder sits right before [MASK].
    func testCOPAPromptLayout() throws {
        let f = try fixture(.copa)
        let ex = try f.examples(.dev)[0]
        let mask = f.tokenizer.commandToken(.MASK)!
        for pattern in [0, 1] {
            var s = f.settings; s.patternId = pattern
            let plain = try ClozeEncoder(tokenizer: f.tokenizer, settings: s, split: .dev).encode(ex).sample
            let sample = try ClozeEncoder(tokenizer: f.tokenizer, settings: prompted(s, 6), split: .dev).encode(ex).sample
            XCTAssertEqual(sample.rows.count, 2)
            for (row, plainRow) in zip(sample.rows, plain.rows) {
                checkStripped(row, plain: plainRow)
                let m = row.ids.firstIndex(of: mask)!
                XCTAssertEqual(row.promptPositions.count, 6)
                XCTAssertEqual(Array(row.promptPositions.prefix(2)), [1, 2])
                XCTAssertEqual(Array(row.promptPositions.suffix(2)), [m - 2, m - 1])
                // The answer part still points at the [MASK] position.
                XCTAssertEqual(row.positions[row.sep], m)
            }
        }
        // Prefix prompt: 2 tokens before part A.
        var s = f.settings; s.prefixPrompt = 2
        XCTAssertEqual(try ClozeEncoder(tokenizer: f.tokenizer, settings: s, split: .dev).encode(ex).sample.rows[0].promptPositions, [1, 2])
    }

    /// `--continuous-prompt` with 0 tokens (or off) encodes and scores exactly as today.
    func testZeroPromptTokensIsToday() throws {
        for task in [SuperGLUETask.rte, .copa] {
            let f = try fixture(task)
            let today = try SuperGLUEDataset(settings: f.settings, split: .dev, examples: try f.examples(.dev), tokenizer: f.tokenizer)
            let zero = try SuperGLUEDataset(settings: prompted(f.settings, 0), split: .dev, examples: try f.examples(.dev), tokenizer: f.tokenizer)
            XCTAssertEqual(today.samples, zero.samples, "\(task)")
            let m = try model()
            XCTAssertEqual(try ClozeScorer(model: m).scores(zero.samples), try ClozeScorer(model: m).scores(today.samples), "\(task)")
        }
        XCTAssertThrowsError(try PatternVerbalizer(task: .record, patternId: 0).promptSlots())
    }

    /// With the transformer frozen, a few epochs of P-tuning on CB lower the training loss, every model
    /// weight stays bit-identical and gets no gradient buffer; the saved prompt file evaluates as the run did.
    func testFrozenTransformerPTuning() throws {
        let f = try fixture(.cb)
        let settings = prompted(f.settings, 4)
        let train = try SuperGLUEDataset(settings: settings, split: .train, examples: try f.examples(.train), tokenizer: f.tokenizer)
        let dev = try SuperGLUEDataset(settings: settings, split: .dev, examples: try f.examples(.dev), tokenizer: f.tokenizer)
        for function in [PromptFunction.lstm, .mlp, .none] {
            let m = try model()
            let before = m.parameters.map { $0.value.toFloats() }
            var o = FinetuneOptions(epochs: 3, batchSize: 2)
            o.learningRate = 1e-2; o.warmup = 0; o.seed = 7
            o.continuousPrompt = true; o.numPromptTokens = 4; o.promptFunc = function; o.freezeTransformer = true
            let finetuner = try SuperGLUEFinetuner(model: m, train: train, dev: dev, options: o)
            let prompts = try XCTUnwrap(finetuner.promptEncoder)
            let initial = prompts.parameters.map { $0.value.toFloats() }
            let result = try finetuner.run()
            let per = result.stepLosses.count / 3
            XCTAssertTrue(result.stepLosses.allSatisfy(\.isFinite))
            let first = result.stepLosses.prefix(per).reduce(0, +), last = result.stepLosses.suffix(per).reduce(0, +)
            XCTAssertLessThan(last, first, "\(function): \(result.stepLosses)")
            XCTAssertEqual(m.parameters.map { $0.value.toFloats() }, before, "\(function): a frozen weight moved")
            XCTAssertTrue(m.parameters.allSatisfy { $0.gradStorage == nil }, "\(function): a frozen weight has a gradient buffer")
            XCTAssertNotEqual(prompts.parameters.map { $0.value.toFloats() }, initial)
            XCTAssertEqual(finetuner.stepper.parameters.count, prompts.parameters.count)

            // Saved next to the model and read back, the prompts give the run's metrics.
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("ptuning-\(ProcessInfo.processInfo.processIdentifier)-\(function)").path
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            try PromptEncoderFile.save(prompts, continuousPrompt: true, numPromptTokens: 4, prefixPrompt: 0, folder: folder)
            let loaded = try XCTUnwrap(try PromptEncoderFile.load(folder: folder))
            var s = f.settings
            loaded.apply(to: &s)
            XCTAssertEqual(s, settings)
            let eval = try SuperGLUEEvaluator.evaluate(dev, model: try model(), promptEncoder: loaded.encoder)
            XCTAssertEqual(eval.metrics.map(\.value), result.metrics.map(\.value))
        }
    }

    /// Every other task's patterns: 3 placeholders each (pvp.py); with 3 tokens the stripped rows are the
    /// plain rows and the prompt tokens sit where the pattern's placeholders are.
    func testOtherTasksPromptPlaceholders() throws {
        for task in [SuperGLUETask.boolq, .wic, .multirc, .wsc] {
            let f = try fixture(task)
            let ex = try f.examples(.dev)[0]
            for pattern in task.patternIds {
                var s = f.settings; s.patternId = pattern
                let slots = try PatternVerbalizer(task: task, patternId: pattern).promptSlots()
                XCTAssertEqual(slots.a.count + slots.b.count, 3, "\(task) \(pattern)")
                let plain = try ClozeEncoder(tokenizer: f.tokenizer, settings: s, split: .dev).encode(ex).sample
                let sample = try ClozeEncoder(tokenizer: f.tokenizer, settings: prompted(s, 3), split: .dev).encode(ex).sample
                for (row, plainRow) in zip(sample.rows, plain.rows) {
                    checkStripped(row, plain: plainRow)
                    XCTAssertEqual(row.promptPositions.count, 3, "\(task) \(pattern)")
                }
            }
        }
        // WSC pattern 0: [None, text, None, ' The pronoun …', None, [MASK], '.']: the last one right before [MASK].
        let f = try fixture(.wsc)
        let row = try ClozeEncoder(tokenizer: f.tokenizer, settings: prompted(f.settings, 3, pattern: 0), split: .dev)
            .encode(try f.examples(.dev)[0]).sample.rows[0]
        XCTAssertEqual(row.promptPositions.first, 1)
        XCTAssertEqual(row.promptPositions.last, row.ids.firstIndex(of: f.tokenizer.commandToken(.MASK)!)! - 1)
    }

    func testOptionsValidation() throws {
        var o = FinetuneOptions(epochs: 1)
        o.freezeTransformer = true
        XCTAssertThrowsError(try o.validate())
        XCTAssertThrowsError(try PromptEncoder(function: .mlp, length: 0, hiddenSize: 4))
        XCTAssertEqual(try PromptEncoder(function: .lstm, length: 3, hiddenSize: 4).parameters.count, 1 + 16 + 4)
    }
}
