import GLMCheckpoint
import GLMEngine
import Foundation
import GLM
import GLMTokenizers
import XCTest
import GLMTestSupport
@testable import GLMGeneration

/// The reference fixtures, read in place from <package root>/../shared/fixtures/glm-reference.
enum Fixtures {
    static let root: URL = ReferenceFixtures.root

    typealias Missing = ReferenceFixtures.Missing
    /// Fails (never skips) when a fixture is missing (`ReferenceFixtures.require`).
    static func require(_ relative: String) throws -> String { try ReferenceFixtures.require(relative) }
    static func json(_ relative: String) throws -> [String: Any] { try ReferenceFixtures.json(relative) }

    /// Every generation fixture: the models of sections 5, 8 and 9 of the fixtures README.
    static let generationModels = ["glm-tiny-bert", "glm-tiny-chinese", "glm-tiny-bert-sharp",
                                   "glm-tiny-chinese-sharp", "glm-tiny-bert-trained"]

    /// Generators are loaded once per model (loading packs weights; the tests share them).
    nonisolated(unsafe) private static var generators: [String: GLMGenerator] = [:]
    private static let lock = NSLock()

    static func generator(_ model: String) throws -> GLMGenerator {
        lock.lock(); defer { lock.unlock() }
        if let g = generators[model] { return g }
        let g = try GLMGenerator.load(try require("models/\(model)"))
        generators[model] = g
        return g
    }
}

func ints(_ any: Any?) -> [Int] { (any as? [Any] ?? []).map { ($0 as! NSNumber).intValue } }

extension Dictionary where Key == String, Value == Any {
    func list(_ key: String) -> [[String: Any]] { self[key] as? [[String: Any]] ?? [] }
    func dict(_ key: String) -> [String: Any] { self[key] as? [String: Any] ?? [:] }
    func string(_ key: String) -> String? { self[key] as? String }
}

/// The original's settings of every fixture: greedy with out_seq_length 10; beam search num_beams 4,
/// --select-topk, length_penalty 0.7, tgt_seq_length 8. Read from the fixture and checked, not assumed.
struct FixtureSettings {
    let greedyMaxLength: Int
    let beam: BeamSearchOptions
    let beamMaxLength: Int

    init(_ j: [String: Any], file: String) throws {
        let g = j.dict("greedy_settings"), b = j.dict("beam_search_settings")
        guard (g["top_k"] as? Int) == 1, let len = g["out_seq_length(max new tokens per blank)"] as? Int else {
            throw Fixtures.Missing(path: "\(file): greedy_settings not top_k 1 with an out_seq_length")
        }
        greedyMaxLength = len
        guard let beams = b["num_beams"] as? Int, let lp = b["length_penalty"] as? Double, let sel = b["select_topk"] as? Bool,
              let blen = b["tgt_seq_length(max new tokens)"] as? Int else {
            throw Fixtures.Missing(path: "\(file): beam_search_settings incomplete")
        }
        XCTAssertEqual(b["min_tgt_length"] as? Int, 0)
        XCTAssertEqual(b["no_repeat_ngram_size"] as? Int, 0)
        XCTAssertEqual(b["top_k"] as? Int, 0)
        XCTAssertEqual(b["do_early_stopping"] as? Bool, false)
        XCTAssertEqual(b["mask_pad_token"] as? Bool, false)
        beam = BeamSearchOptions(numBeams: beams, lengthPenalty: lp, selectTopK: sel)
        beamMaxLength = blen
    }
}

/// Runs each test on ONE thread and restores the previous count after: the fixture models are tiny
/// (hidden 32), where the OpenMP pool only spins in barriers (7× slower on a busy 2-core machine).
/// Results do not depend on the thread count (the kernels are thread-count invariant).
class GenerationTestCase: XCTestCase {
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
}
