import Foundation
import XCTest
import GLMEngine
import GLMGeneration
import GLMTestSupport
import GLMTokenizers
@testable import GLMTasks

/// `Seq2SeqEvaluator`: the original's seq2seq evaluation (DecoderEvaluater + rouge_metric) on the fixture
/// tiny models and data folders. Runs on one thread (the tiny models only spin in OpenMP barriers).
final class Seq2SeqEvaluationTests: XCTestCase {
    private var savedThreads = 0

    override func setUp() {
        super.setUp()
        savedThreads = Runtime.threads
        Runtime.setThreads(1)
    }

    override func tearDown() {
        Runtime.setThreads(savedThreads)
        super.tearDown()
    }

    nonisolated(unsafe) private static var generators: [String: GLMGenerator] = [:]
    private static let lock = NSLock()

    static func generator(_ model: String) throws -> GLMGenerator {
        lock.lock(); defer { lock.unlock() }
        if let g = generators[model] { return g }
        let g = try GLMGenerator.load(try Fixtures.require("models/\(model)"))
        generators[model] = g
        return g
    }

    /// A small decoding setting the tiny models (128 positions) can run: every constraint switched on.
    static func smallTask(_ kind: Seq2SeqTaskKind) -> Seq2SeqTask {
        var t = Seq2SeqTask.preset(kind)
        t.srcSeqLength = 48
        t.tgtSeqLength = 10
        t.numBeams = 3
        t.minTgtLength = 3
        t.noRepeatNgramSize = 2
        return t
    }

    func scratch() throws -> String { try ReferenceFixtures.scratchFolder(for: self, prefix: "s2s-eval") }

    func write(_ lines: [String], _ path: String) throws {
        try lines.map { $0 + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
    }

    // MARK: (a) the evaluation runs the proven beam search

    /// The generate/*.json beam-search cases of the BERT models (the original's DecoderEvaluater on
    /// Seq2SeqDataset cnn_dm_original test samples): the evaluator's samples are the original's, its
    /// predictions the original's prediction texts, and its beam search is `seq2seqBeamSearch` on the
    /// same ids (same ids, same score).
    func testEvaluationReproducesOriginalBeamSearchFixtures() throws {
        var compared = 0
        for model in ["glm-tiny-bert-trained", "glm-tiny-bert-sharp"] {
            let j = try Fixtures.json("generate/\(model).json")
            let settings = j["beam_search_settings"] as? [String: Any] ?? [:]
            XCTAssertEqual(settings["dataset"] as? String, "tasks/seq2seq/dataset.py Seq2SeqDataset (task cnn_dm_original, split test)")
            let cases = j["beam_search"] as? [[String: Any]] ?? []
            XCTAssertFalse(cases.isEmpty, model)
            let g = try Self.generator(model)
            var task = Seq2SeqTask.preset(.cnnDMOriginal)
            task.srcSeqLength = (settings["src_seq_length"] as! NSNumber).intValue
            task.tgtSeqLength = (settings["tgt_seq_length(max new tokens)"] as! NSNumber).intValue
            task.numBeams = (settings["num_beams"] as! NSNumber).intValue
            task.lengthPenalty = (settings["length_penalty"] as! NSNumber).doubleValue
            task.selectTopK = settings["select_topk"] as! Bool
            task.minTgtLength = (settings["min_tgt_length"] as! NSNumber).intValue
            task.noRepeatNgramSize = (settings["no_repeat_ngram_size"] as! NSNumber).intValue
            let evaluator = try Seq2SeqEvaluator(generator: g, task: task)
            XCTAssertEqual(evaluator.rougeMode, .cnnDM, "BERT: the original's rouge_metric dataset 'cnn_dm'")

            // Through the data reader: a test split of the fixture sources.
            let dir = try scratch()
            let sources = cases.map { $0["source_text"] as! String }
            try write(sources, dir + "/test.source")
            try write(sources, dir + "/test.target")
            let examples = try Seq2SeqData.examples(task: task, split: .test, dataDirectory: dir, tokenizer: g.tokenizer)
            for (example, c) in zip(examples, cases) {
                let label = "\(model) \(example.guid)"
                let sample = try evaluator.sample(example, split: .test)
                XCTAssertEqual(sample.ids, ints(c["dataset_sample"].flatMap { ($0 as? [String: Any])?["text"] }), label)
                let input = try evaluator.beamInput(sample)
                XCTAssertEqual(input.sourceIds, Array(sample.ids.dropLast()), label)
                XCTAssertEqual(input.maskPosition, sample.ids.firstIndex(of: evaluator.encoder.mask), label)
                let mine = try evaluator.beamSearch(sample)
                let direct = try g.seq2seqBeamSearch(sourceIds: input.sourceIds, maskPosition: input.maskPosition,
                                                     options: GenerationOptions(strategy: .beam(BeamSearchOptions(
                                                         numBeams: task.numBeams, lengthPenalty: task.lengthPenalty, selectTopK: true)),
                                                         maxLength: task.tgtSeqLength))
                XCTAssertEqual(mine.ids, direct.ids, label)
                XCTAssertEqual(mine.score, direct.score, label)
                XCTAssertEqual(g.predictionIds(mine.ids), ints(c["best_hypothesis_ids_after_removing_eop_and_pad"]), label)
            }
            // One at a time and batched (all sources of different lengths in one beam-search batch).
            for batchSize in [1, 2, cases.count] {
                let result = try evaluator.evaluate(examples, split: .test, batchSize: batchSize)
                XCTAssertEqual(result.predictions, cases.map { $0["prediction_text"] as! String }, "\(model) batch \(batchSize)")
                XCTAssertEqual(result.references, examples.map(\.ref), model)
            }
            compared += cases.count
        }
        XCTAssertEqual(compared, 6 + 3)
    }

    /// Every constraint the configs use (min length, no-repeat n-gram) goes to the generator unchanged.
    func testEvaluatorOptionsComeFromTheTask() throws {
        let g = try Self.generator("glm-tiny-bert-trained")
        var task = Self.smallTask(.gigaword)
        task.seed = 77
        task.selectTopK = false
        let e = try Seq2SeqEvaluator(generator: g, task: task)
        let o = e.generationOptions
        XCTAssertEqual(o.strategy, .beam(BeamSearchOptions(numBeams: 3, lengthPenalty: 0.6, selectTopK: false)))
        XCTAssertEqual(o.maxLength, 10)
        XCTAssertEqual(o.minLength, 3)
        XCTAssertEqual(o.noRepeatNGramSize, 2)
        XCTAssertEqual(o.seed, 77)
        XCTAssertFalse(o.restrictToRealTokens)
        // A fixture sample: the evaluator's search is the generator's with these options.
        let example = try Seq2SeqData.examples(task: task, split: .test, dataDirectory: try Fixtures.require("tasks/seq2seq/gigaword"),
                                               tokenizer: g.tokenizer)[0]
        let sample = try e.sample(example, split: .test)
        let input = try e.beamInput(sample)
        XCTAssertEqual(try e.beamSearch(sample).ids, try g.seq2seqBeamSearch(sourceIds: input.sourceIds, maskPosition: input.maskPosition, options: o).ids)
        // The ROUGE mode the original picks: cnn_dm for BERT whatever the task.
        XCTAssertEqual(e.rougeMode, .cnnDM)
        let gpt = try TokenizerPreset.glm10B.load()
        XCTAssertEqual(Seq2SeqEvaluator.rougeMode(for: .gigaword, tokenizer: gpt), .gigaword)
        for kind in [Seq2SeqTaskKind.cnnDMOriginal, .cnnDM, .xsum, .customization] {
            XCTAssertEqual(Seq2SeqEvaluator.rougeMode(for: kind, tokenizer: gpt), .cnnDMOrg, kind.rawValue)
        }
    }

    /// `--mask-pad-token` (customization): the padding hidden from every position is the same as no
    /// padding, so the beam search runs on the unpadded context.
    func testMaskPadTokenDropsHiddenPadding() throws {
        let g = try Self.generator("glm-tiny-bert-trained")
        var task = Self.smallTask(.customization)
        task.maskPadToken = true
        let e = try Seq2SeqEvaluator(generator: g, task: task)
        var plain = task
        plain.maskPadToken = false
        let p = try Seq2SeqEvaluator(generator: g, task: plain)
        let examples = try Seq2SeqData.examples(task: task, split: .test, dataDirectory: try Fixtures.require("tasks/seq2seq/customization"),
                                                tokenizer: g.tokenizer)
        for example in examples {
            let masked = try e.beamInput(try e.sample(example, split: .test))
            let padded = try p.beamInput(try p.sample(example, split: .test))
            XCTAssertEqual(padded.sourceIds.count, task.srcSeqLength)
            // [CLS] source [MASK] [eos] (BERT's eos is the pad id 0: the mask, not the ids, tells them apart).
            let context = min(g.tokenizer.encode(example.source).count, task.srcSeqLength - 3) + 3
            XCTAssertLessThan(context, task.srcSeqLength, example.guid)
            XCTAssertEqual(masked.sourceIds, Array(padded.sourceIds.prefix(context)), example.guid)
            XCTAssertEqual(masked.maskPosition, padded.maskPosition, example.guid)
        }
    }

    // MARK: blank (BlankLMEvaluater)

    /// The blank test split: every mask of the source filled greedily in turn, the prediction the filled
    /// source, no metric (the original's metric_dict is empty for blank).
    func testBlankTaskFillsEveryMaskGreedily() throws {
        let g = try Self.generator("glm-tiny-bert-trained")
        var task = Self.smallTask(.blank)
        task.srcSeqLength = 40
        let e = try Seq2SeqEvaluator(generator: g, task: task)
        XCTAssertEqual(e.generationOptions.strategy, .greedy)
        let dir = try Fixtures.require("tasks/seq2seq/blank")
        let examples = try Seq2SeqData.examples(task: task, split: .test, dataDirectory: dir, tokenizer: g.tokenizer)
        let r = try e.evaluate(examples, split: .test)
        XCTAssertNil(r.rouge)
        XCTAssertTrue(r.metrics.isEmpty)
        XCTAssertTrue(r.jsonLine.hasSuffix("\"metrics\": {}}"), r.jsonLine)
        XCTAssertEqual(r.references, examples.map(\.target))
        for (i, example) in examples.enumerated() {
            let sample = try e.sample(example, split: .test)
            let generated = try e.blankFill(sample)
            var memory = e
            memory.path = .memory
            XCTAssertEqual(try memory.blankFill(sample), generated, "\(example.guid): K/V cache and memory paths")
            XCTAssertLessThanOrEqual(generated.count, task.tgtSeqLength)
            XCTAssertFalse(generated.contains(e.encoder.eop))
            let masks = sample.ids.filter { $0 == e.encoder.mask }.count
            XCTAssertLessThanOrEqual(generated.filter { $0 == e.encoder.sop }.count, masks - 1, example.guid)
            XCTAssertEqual(r.predictions[i], e.fillBlanks(sample: sample, generated: generated), example.guid)
            XCTAssertFalse(r.predictions[i].contains("[MASK]") && generated.filter { $0 == e.encoder.sop }.count == masks - 1, example.guid)
        }
        // The reassembly: blanks split at sop into the masks, pads and the final sop left out.
        let m = e.encoder.mask, sop = e.encoder.sop, pad = e.encoder.pad
        let a = g.tokenizer.encode(" a"), b = g.tokenizer.encode(" b"), c = g.tokenizer.encode(" c")
        let sample = Seq2SeqSample(ids: a + [m] + b + [m, pad, pad, sop], targets: nil, attention: .sep(0), lossMask: nil,
                                   positions: [], uid: "x")
        XCTAssertEqual(e.fillBlanks(sample: sample, generated: c + [sop] + a + [pad]), "a c b a")
        XCTAssertEqual(e.fillBlanks(sample: sample, generated: c), "a c b")
        XCTAssertEqual(Seq2SeqDetokenizer.blankPrediction("it ' s u . s . and don ' t . . ."), "it 's u.s. and don't ...")
    }

    // MARK: (b) files and summary line

    func testPredictionFilesAndSummaryAreConsistentWithRouge() throws {
        let g = try Self.generator("glm-tiny-bert-trained")
        for kind in [Seq2SeqTaskKind.cnnDM, .gigaword, .xsum] {
            let task = Self.smallTask(kind)
            let e = try Seq2SeqEvaluator(generator: g, task: task)
            var reports: [(Int, Int)] = []
            let dir = try Fixtures.require("tasks/seq2seq/\(kind.rawValue)")
            let r = try e.evaluate(split: .test, dataDirectory: dir, batchSize: 2) { reports.append(($0, $1)) }
            let examples = try Seq2SeqData.examples(task: task, split: .test, dataDirectory: dir, tokenizer: g.tokenizer)
            XCTAssertEqual(r.examples, examples.count)
            XCTAssertEqual(r.uids, examples.map(\.guid))
            XCTAssertEqual(r.references, examples.map(\.ref), "references are meta.ref")
            XCTAssertEqual(reports.map(\.0), Array(stride(from: 2, to: examples.count, by: 2)) + [examples.count], kind.rawValue)
            XCTAssertTrue(reports.allSatisfy { $0.1 == examples.count })

            let out = try scratch() + "/test.jsonl.hyps"
            let refs = try r.write(predictionsPath: out)
            XCTAssertEqual(refs, String(out.dropLast(5)) + ".refs")
            XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), r.predictions.map { $0 + "\n" }.joined())
            XCTAssertEqual(try String(contentsOfFile: refs, encoding: .utf8), r.references.map { $0 + "\n" }.joined())
            let fromFiles = try RougeMetric.evaluate(predictionFile: out, referenceFile: refs, mode: r.rougeMode)
            XCTAssertEqual(fromFiles, r.rouge, kind.rawValue)
            let direct = try RougeMetric.evaluate(predictions: r.predictions, references: r.references, mode: .cnnDM)
            XCTAssertEqual(direct.originalMetrics, r.rouge?.originalMetrics)

            let json = try JSONSerialization.jsonObject(with: Data(r.jsonLine.utf8)) as! [String: Any]
            XCTAssertEqual(json["task"] as? String, kind.rawValue)
            XCTAssertEqual(json["split"] as? String, "test")
            XCTAssertEqual(json["examples"] as? Int, examples.count)
            let metrics = json["metrics"] as! [String: Double]
            XCTAssertEqual(Set(metrics.keys), ["rouge-1", "rouge-2", "rouge-l"])
            for (k, v) in fromFiles.originalMetrics {
                XCTAssertEqual(metrics[k] ?? -1, v, accuracy: 1e-15, "\(kind.rawValue) \(k)")
                XCTAssertTrue(r.jsonLine.contains("\"\(k)\": \(v)"), "\(kind.rawValue) \(k): shortest round-trip")
            }
        }
        XCTAssertEqual(Seq2SeqEvaluation.referencesPath(forPredictions: "out.txt"), "out.txt.refs")
    }

    // MARK: (c) batching and order

    func testBatchingAndOrderDoNotChangePredictions() throws {
        let g = try Self.generator("glm-tiny-bert-sharp")
        let task = Self.smallTask(.cnnDMOriginal)
        let e = try Seq2SeqEvaluator(generator: g, task: task)
        let examples = try Seq2SeqData.examples(task: task, split: .dev, dataDirectory: try Fixtures.require("tasks/seq2seq/cnn_dm_original"),
                                                tokenizer: g.tokenizer)
        XCTAssertEqual(examples.count, 3)
        let one = try e.evaluate(examples, split: .dev, batchSize: 1)
        let three = try e.evaluate(examples, split: .dev, batchSize: 3)
        XCTAssertEqual(one, three)
        let reversed = try e.evaluate(examples.reversed(), split: .dev, batchSize: 2)
        XCTAssertEqual(reversed.predictions, one.predictions.reversed())
        XCTAssertEqual(reversed.uids, one.uids.reversed())
        for (i, example) in examples.enumerated() {
            XCTAssertEqual(try e.predict(example, split: .dev), one.predictions[i], example.guid)
        }
    }

    // MARK: (d) bad input

    func testBadInputGivesClearErrors() throws {
        let g = try Self.generator("glm-tiny-bert-trained")
        let e = try Seq2SeqEvaluator(generator: g, task: Self.smallTask(.customization))
        // Missing split file.
        let empty = try scratch()
        XCTAssertThrowsError(try e.evaluate(split: .dev, dataDirectory: empty)) { error in
            let d = error as? Seq2SeqDataError
            XCTAssertEqual(d?.file, empty + "/val.source")
            XCTAssertEqual(d?.reason, "no such file")
        }
        // Mismatched source/target counts.
        let dir = try scratch()
        try write(["one source", "two source"], dir + "/test.source")
        try write(["one target"], dir + "/test.target")
        XCTAssertThrowsError(try e.evaluate(split: .test, dataDirectory: dir)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("test.source has 2 lines") && text.contains("test.target has 1"), text)
        }
        // No examples, the train split, the blank task, a source longer than the model's positions.
        try write([], dir + "/val.source")
        try write([], dir + "/val.target")
        XCTAssertThrowsError(try e.evaluate(split: .dev, dataDirectory: dir)) { error in
            XCTAssertEqual(error as? Seq2SeqError, .input("no examples to evaluate in the dev split"))
        }
        XCTAssertThrowsError(try e.evaluate(split: .train, dataDirectory: try Fixtures.require("tasks/seq2seq/customization"))) { error in
            XCTAssertTrue("\(error)".contains("training samples"), "\(error)")
        }
        var blank = Self.smallTask(.blank)
        blank.taskMask = true
        XCTAssertThrowsError(try Seq2SeqEvaluator(generator: g, task: blank)) { error in
            XCTAssertTrue("\(error)".contains("BlankLMEvaluater"), "\(error)")
        }
        XCTAssertThrowsError(try Seq2SeqEvaluator(generator: g, task: .preset(.cnnDM))) { error in
            XCTAssertTrue("\(error)".contains("source length 608") && "\(error)".contains("128 positions"), "\(error)")
        }
        var flat = Self.smallTask(.cnnDM)
        flat.noBlockPosition = true
        XCTAssertThrowsError(try Seq2SeqEvaluator(generator: g, task: flat)) { error in
            XCTAssertTrue("\(error)".contains("--no-block-position"), "\(error)")
        }
        var masked = Self.smallTask(.cnnDM)
        masked.taskMask = true
        XCTAssertThrowsError(try Seq2SeqEvaluator(generator: g, task: masked)) { error in
            XCTAssertTrue("\(error)".contains("sMASK"), "\(error)")
        }
    }
}
