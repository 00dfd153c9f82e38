import Foundation
import GLM
import XCTest
@testable import GLMGeneration

/// The batched seq2seq beam search (`GLMGenerator.seq2seqBeamSearch(sources:options:)`) against
/// one-at-a-time decoding (`seq2seqBeamSearch(sourceIds:maskPosition:options:)`, proven against the
/// original by `BeamFixtureTests`): every beam-search source of every generate/*.json fixture (also
/// unpadded and cut), all of a model's sources in one batch (sources of different lengths,
/// right-padded; searches that stop at different steps), with the fixtures' settings, on both decoding
/// paths, and with the constraints and candidate draws of the evaluator's other options. Ids, end flag, steps run and every scorer decision are exact; scores
/// differ only by the float rounding of the batched, padded products (measured max |Δ score| is
/// printed, tolerance 1e-4).
final class BatchedBeamSearchTests: GenerationTestCase {
    /// Each model's fixture sources (ids before sop, mask position), each three times: as the fixture has
    /// it (padded to 32 tokens), without its trailing pad ids, and cut to half of that: a batch mixes lengths.
    func sources(_ model: String) throws -> [(sourceIds: [Int], maskPosition: Int)] {
        let pad = try Fixtures.generator(model).specialTokens.pad
        return try Fixtures.json("generate/\(model).json").list("beam_search").flatMap { c in
            let sample = c.dict("dataset_sample")
            let sep = ints(sample["attention_mask(sep)"])[0]
            let rows = (sample["position_id"] as! [Any]).map(ints)
            let padded = Array(ints(sample["text"])[..<sep]), mask = rows[0][sep]
            var unpadded = padded
            while unpadded.count > mask + 1 && unpadded.last == pad { unpadded.removeLast() }
            let half = Array(unpadded.prefix(max(mask + 1, unpadded.count / 2)))
            return [(padded, mask), (unpadded, mask), (half, mask)]
        }
    }

    func compare(models: [String] = Fixtures.generationModels, options: (FixtureSettings) -> GenerationOptions,
                 paths: [DecodingPath] = [.kvCache]) throws {
        var worst = 0.0, batches = 0, ragged = 0, staggered = 0
        for model in models {
            let settings = try FixtureSettings(try Fixtures.json("generate/\(model).json"), file: model)
            let g = try Fixtures.generator(model)
            let all = try sources(model)
            for path in paths {
                var o = options(settings)
                o.path = path
                let alone = try all.map { try g.seq2seqBeamSearch(sourceIds: $0.sourceIds, maskPosition: $0.maskPosition, options: o) }
                let batched = try g.seq2seqBeamSearch(sources: all, options: o)
                XCTAssertEqual(batched.count, all.count)
                for (i, (a, b)) in zip(alone, batched).enumerated() {
                    let label = "\(model) [\(path)] source \(i)"
                    XCTAssertEqual(b.ids, a.ids, label)
                    XCTAssertEqual(b.endedWithEndToken, a.endedWithEndToken, label)
                    XCTAssertEqual(b.trace.stepsRun, a.trace.stepsRun, label)
                    XCTAssertEqual(b.trace.stoppedByIsDone, a.trace.stoppedByIsDone, label)
                    XCTAssertEqual(b.trace.added.map(\.ids), a.trace.added.map(\.ids), label)
                    XCTAssertEqual(b.trace.added.map(\.kept), a.trace.added.map(\.kept), label)
                    XCTAssertEqual(b.score, a.score, accuracy: 1e-4, label)
                    worst = max(worst, abs(b.score - a.score))
                }
                batches += 1
                if Set(all.map(\.sourceIds.count)).count > 1 { ragged += 1 }
                if Set(alone.map(\.trace.stepsRun)).count > 1 { staggered += 1 }
            }
        }
        print("[batched beam] \(batches) batches (\(ragged) with sources of different lengths, \(staggered) with searches of different lengths): max |Δ score| \(worst)")
        XCTAssertGreaterThan(ragged, 0, "no batch mixed source lengths: the padding mask went untested")
        XCTAssertGreaterThan(staggered, 0, "no batch had searches ending at different steps: dropping finished sources went untested")
    }

    func testFixtureSettingsMatchOneAtATime() throws {
        try compare(options: { GenerationOptions(strategy: .beam($0.beam), maxLength: $0.beamMaxLength) })
    }

    /// The original's memory path (explicit masks over re-projected memories) batches the same way.
    func testMemoryPathMatchesOneAtATime() throws {
        try compare(models: ["glm-tiny-bert-trained"], options: { GenerationOptions(strategy: .beam($0.beam), maxLength: $0.beamMaxLength) },
                    paths: [.memory])
    }

    /// Longer searches (some end on eop, some at the limit), min length and no-repeat n-gram constraints,
    /// 3 beams.
    func testConstraintsMatchOneAtATime() throws {
        try compare(options: { s in
            var beam = s.beam
            beam.numBeams = 3
            return GenerationOptions(strategy: .beam(beam), maxLength: 11, minLength: 2, noRepeatNGramSize: 2)
        })
    }

    /// The seeded candidate draws of `--select-topk` off, on the trained model. (On the random-weight
    /// models the distributions over ~50k ids are nearly flat: a draw then lands within float rounding of
    /// a cumulative-weight boundary often enough that a 1e-6 difference in the scores changes the
    /// candidate, alone as much as batched, so those models are compared with top-k selection only.)
    func testSeededSamplingMatchesOneAtATime() throws {
        try compare(models: ["glm-tiny-bert-trained"], options: { s in
            var beam = s.beam
            beam.selectTopK = false
            return GenerationOptions(strategy: .beam(beam), maxLength: 12, minLength: 1, noRepeatNGramSize: 3, seed: 5)
        })
    }

    func testBadSourceIsNamedAndEmptyBatchIsEmpty() throws {
        let g = try Fixtures.generator("glm-tiny-bert")
        let o = GenerationOptions(strategy: .beam(BeamSearchOptions(numBeams: 2, lengthPenalty: 1, selectTopK: true)), maxLength: 3)
        XCTAssertEqual(try g.seq2seqBeamSearch(sources: [], options: o), [])
        let good = try sources("glm-tiny-bert")[0]
        XCTAssertThrowsError(try g.seq2seqBeamSearch(sources: [good, (good.sourceIds, good.sourceIds.count)], options: o)) {
            XCTAssertTrue("\($0)".contains("source 1"), "\($0)")
        }
        XCTAssertThrowsError(try g.seq2seqBeamSearch(sources: [good], options: GenerationOptions(strategy: .greedy)))
    }
}
