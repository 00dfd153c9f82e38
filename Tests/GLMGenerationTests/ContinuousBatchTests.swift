import Foundation
import XCTest
@testable import GLMGeneration

/// Continuous batching (ContinuousBatchDecoder on GLMRaggedKVCache): prompts that join a running batch at
/// different steps, with different context lengths and blank counts, each get exactly the tokens the
/// original gives them alone (the fixtures' final sequences).
final class ContinuousBatchTests: GenerationTestCase {
    func testRowsJoiningAtDifferentStepsGiveTheOriginalsTokens() throws {
        for model in Fixtures.generationModels {
            let j = try Fixtures.json("generate/\(model).json")
            let settings = try FixtureSettings(j, file: model)
            let g = try Fixtures.generator(model)
            let cases = j.list("greedy")
            let options = GenerationOptions(strategy: .greedy, maxLength: settings.greedyMaxLength)
            let decoder = ContinuousBatchDecoder(generator: g)
            var results = [GenerationResult?](repeating: nil, count: cases.count)
            var tokenTexts = [String](repeating: "", count: cases.count)
            var next = 0, steps = 0, widest = 0
            while next < cases.count || decoder.count > 0 {
                // A new prompt joins every other step, while the earlier ones are mid-blank.
                if next < cases.count && steps % 2 == 0 {
                    let i = next
                    let prepared = try g.prepare(cases[i].string("prompt")!, maxLength: options.maxLength)
                    try decoder.add(prepared, options: options) { event in
                        switch event {
                        case let .token(_, _, text, _): tokenTexts[i] += text
                        case let .blankFinished(_, _, tail): tokenTexts[i] += tail
                        case let .finished(r): results[i] = r
                        case let .failed(m): XCTFail("\(model) prompt \(i): \(m)")
                        }
                    }
                    next += 1
                }
                widest = max(widest, decoder.count)
                try decoder.step()
                steps += 1
            }
            XCTAssertGreaterThan(widest, 2, "\(model): rows really overlapped")
            for (i, c) in cases.enumerated() {
                let r = try XCTUnwrap(results[i], "\(model) prompt \(i) finished")
                XCTAssertEqual(r.ids, ints(c["final_token_sequence"]), "\(model): \(c.string("prompt")!.prefix(40))")
                XCTAssertEqual(r, try g.generate(c.string("prompt")!, options: options), "\(model) prompt \(i): same result as alone")
                XCTAssertEqual(tokenTexts[i], r.blanks.map(\.text).joined(), "\(model) prompt \(i): streamed pieces = blank texts")
            }
        }
    }

    /// A removed row leaves at once and the others finish unchanged; sampled rows keep their own seeds.
    func testRemovedRowLeavesAndSampledRowsDoNotDependOnBatchMates() throws {
        let g = try Fixtures.generator("glm-tiny-bert-trained")
        let prompt = "The old fisherman walked to the [MASK] every morning and bought fresh bread for his family."
        let sample = GenerationOptions(strategy: .sample(SamplingOptions(temperature: 1.0, topK: 40)), maxLength: 10, minLength: 10, seed: 99)
        let alone = try g.generate(prompt, options: sample)
        let decoder = ContinuousBatchDecoder(generator: g)
        var got: GenerationResult? = nil
        var cancelledTokens = 0
        let victim = try decoder.add(try g.prepare("GLM is a general language model", maxLength: 10),
                                     options: GenerationOptions(maxLength: 10, minLength: 10)) { e in
            if case .token = e { cancelledTokens += 1 }
        }
        try decoder.step()
        try decoder.add(try g.prepare(prompt, maxLength: 10), options: sample) { e in if case let .finished(r) = e { got = r } }
        try decoder.step()
        XCTAssertEqual(decoder.count, 2)
        decoder.remove(ids: [victim!])
        XCTAssertEqual(decoder.count, 1)
        while decoder.count > 0 { try decoder.step() }
        XCTAssertEqual(cancelledTokens, 2)
        XCTAssertEqual(got, alone)
    }
}
