import Foundation
import GLM
import GLMTokenizers
import XCTest
@testable import GLMGeneration

/// Every beam-search case of every generate/*.json fixture (tasks/seq2seq/evaluate.py with
/// BeamSearchScorer, --select-topk): the same best hypothesis and prediction text on both decoding
/// paths, and for the trained model (whose beams really end on eop) the scorer's whole trace: every
/// `BeamHypotheses.add` (step, process/finalize, ids, length for the penalty, summed log-probs, score,
/// kept or not), the number of steps and whether `is_done` stopped the search. Scores: measured max
/// |Δ| 9.5e-6 on summed log-probs (8 steps of float32 logit noise ≤ 1.8e-5 each, see StepLogitsTests),
/// tolerance 3e-5; the ids, steps and add/keep decisions are exact.
final class BeamFixtureTests: GenerationTestCase {
    func testBeamSearchKVCacheMatchesOriginal() throws { try checkAll(path: .kvCache) }

    func testBeamSearchMemoryPathMatchesOriginal() throws { try checkAll(path: .memory) }

    func checkAll(path: DecodingPath) throws {
        var sources = 0, traced = 0, worstScoreDiff = 0.0, worstSumDiff: Float = 0
        for model in Fixtures.generationModels {
            let j = try Fixtures.json("generate/\(model).json")
            let settings = try FixtureSettings(j, file: model)
            let g = try Fixtures.generator(model)
            let options = GenerationOptions(strategy: .beam(settings.beam), maxLength: settings.beamMaxLength, path: path)
            for c in j.list("beam_search") {
                let label = "\(model) [\(path)] \(c.string("source_text")!.prefix(30))"
                let sample = c.dict("dataset_sample")
                let text = ints(sample["text"])
                let sep = ints(sample["attention_mask(sep)"])[0]
                let rows = (sample["position_id"] as! [Any]).map(ints)
                // The sample is [source (sep tokens, positions 0..<sep, block 0)] + [sop at (mask, 1)]:
                // exactly a context pass followed by the sop step.
                XCTAssertEqual(text.count, sep + 1, label)
                XCTAssertEqual(text.last, g.specialTokens.sop, label)
                XCTAssertEqual(Array(rows[0][..<sep]), Array(0..<sep), label)
                XCTAssertEqual(Array(rows[1][..<sep]), Array(repeating: 0, count: sep), label)
                XCTAssertEqual(rows[1][sep], 1, label)
                let maskPosition = rows[0][sep]
                let maskId = g.tokenizer.commandToken(named: g.tokenizer.hasTaskMask ? "sMASK" : "MASK")!
                XCTAssertEqual(text.firstIndex(of: maskId), maskPosition, label)

                let r = try g.seq2seqBeamSearch(sourceIds: Array(text[..<sep]), maskPosition: maskPosition, options: options)
                let prediction = g.predictionIds(r.ids)
                XCTAssertEqual(prediction, ints(c["best_hypothesis_ids_after_removing_eop_and_pad"]), label)
                XCTAssertEqual(g.tokenizer.decode(prediction), c.string("prediction_text"), label)
                sources += 1

                guard let trace = c["scorer_trace"] as? [String: Any] else { continue }
                traced += 1
                XCTAssertEqual(r.trace.stepsRun, trace["decoding_steps_run"] as? Int, label)
                XCTAssertEqual(r.trace.stoppedByIsDone, trace["stopped_early_by_is_done"] as? Bool, label)
                XCTAssertEqual(r.endedWithEndToken, c["best_hypothesis_ended_with_eop"] as? Bool, label)
                let added = trace["hypotheses_added"] as! [[String: Any]]
                XCTAssertEqual(r.trace.added.count, added.count, "\(label): number of BeamHypotheses.add calls")
                for (mine, ref) in zip(r.trace.added, added) {
                    XCTAssertEqual(mine.step, ref["decoding_step"] as? Int, label)
                    XCTAssertEqual(mine.viaFinalize, (ref.string("via") ?? "").hasPrefix("finalize"), label)
                    XCTAssertEqual(mine.ids, ints(ref["ids"]), label)
                    XCTAssertEqual(mine.lengthForPenalty, ref["length_for_penalty"] as? Int, label)
                    let sum = Float((ref["sum_logprobs"] as! NSNumber).doubleValue)
                    let score = (ref["score"] as! NSNumber).doubleValue
                    worstSumDiff = max(worstSumDiff, abs(mine.sumLogProbs - sum))
                    worstScoreDiff = max(worstScoreDiff, abs(mine.score - score))
                    XCTAssertEqual(mine.sumLogProbs, sum, accuracy: 3e-5, label)
                    XCTAssertEqual(mine.score, score, accuracy: 3e-5, label)
                    let before = ref["hypotheses_before"] as! Int
                    let worst = (ref["worst_score_before"] as? NSNumber)?.doubleValue
                    let keptByOriginal = before < settings.beam.numBeams || score > (worst ?? -.infinity)
                    XCTAssertEqual(mine.kept, keptByOriginal, label)
                }
            }
        }
        XCTAssertEqual(sources, 2 + 1 + 3 + 3 + 6)
        XCTAssertEqual(traced, 6)
        print("[beam \(path)] \(sources) sources; trace: max |Δ sum_logprobs| \(worstSumDiff), max |Δ score| \(worstScoreDiff)")
    }
}
