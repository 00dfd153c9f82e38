import Foundation
import XCTest
@testable import GLMTokenizers

/// Every case of every variant in every fixture file: ids, tokens and decoded text exactly equal,
/// and every generation prompt as generate_samples.py builds it.
final class FixtureParityTests: XCTestCase {
    func testBertWordPieceVariantAllPresets() throws {
        let variants = try Fixtures.variants("bert-base-uncased")
        XCTAssertEqual(variants.count, 1)
        // The five BERT presets share one configuration (bert-large-uncased's vocab is byte-identical).
        let configs = try XCTUnwrap(variants[0]["configs"] as? [[String: Any]]).compactMap { $0["config"] as? String }
        let presets = [TokenizerPreset.glmBase, .glmLarge, .glmLargeGeneration, .glm410M, .glm515M]
        XCTAssertEqual(presets.map { "config_tasks/" + $0.config }, configs)
        for p in presets {
            XCTAssertEqual(p.family, .bertWordPiece)
            XCTAssertFalse(p.taskMask)
        }
        checkVariant(variants[0], with: try TokenizerCache.shared.get(.glmBase))
    }

    func testGPT2Variant() throws {
        let variants = try Fixtures.variants("gpt2")
        XCTAssertEqual(variants.count, 1)
        let configs = try XCTUnwrap(variants[0]["configs"] as? [[String: Any]]).compactMap { $0["config"] as? String }
        XCTAssertEqual([TokenizerPreset.glm2B, .glm10B].map { "config_tasks/" + $0.config }, configs)
        XCTAssertEqual(TokenizerPreset.glm2B.taskMask, TokenizerPreset.glm10B.taskMask)
        checkVariant(variants[0], with: try TokenizerCache.shared.get(.glm10B))
    }

    func testRobertaVariants() throws {
        let variants = try Fixtures.variants("roberta")
        XCTAssertEqual(variants.count, 2)
        checkVariant(variants[0], with: try TokenizerCache.shared.get(.glmRobertaLarge))
        checkVariant(variants[1], with: try TokenizerCache.shared.get(.glmRoberta125))
    }

    func testChineseSentencePieceVariants() throws {
        let variants = try Fixtures.variants("chinese-sp")
        XCTAssertEqual(variants.count, 2)
        checkVariant(variants[0], with: try TokenizerCache.shared.get(.glmLargeChinese))
        checkVariant(variants[1], with: try TokenizerCache.shared.get(.glm10BChinese))
    }

    /// The same variants built from the fixtures' own vocab folder (the model-folder path of the loader).
    func testLoadingFromAVocabFolder() throws {
        let vocab = try Fixtures.require().appendingPathComponent("vocab")
        checkVariant(try Fixtures.variants("bert-base-uncased")[0], with: try TokenizerCache.shared.get(.glmLarge, vocabDirectory: vocab))
        checkVariant(try Fixtures.variants("gpt2")[0], with: try TokenizerCache.shared.get(.glm10B, vocabDirectory: vocab))
        checkVariant(try Fixtures.variants("roberta")[0], with: try TokenizerCache.shared.get(.glmRobertaLarge, vocabDirectory: vocab))
        checkVariant(try Fixtures.variants("chinese-sp")[1], with: try TokenizerCache.shared.get(.glm10BChinese, vocabDirectory: vocab))
        let files = try TokenizerLoader.vocabFiles(for: .roberta, vocabDirectory: vocab)
        XCTAssertEqual(files.map(\.lastPathComponent), ["roberta-vocab.json", "roberta-merges.txt"])
    }
}
