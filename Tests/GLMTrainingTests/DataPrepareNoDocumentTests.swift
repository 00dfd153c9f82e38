import Foundation
import XCTest
@testable import GLMTraining

/// `glm data prepare` on input with no usable document fails, naming the inputs, and writes no dataset.
final class DataPrepareNoDocumentTests: XCTestCase {
    func testRandomBytesFailWithTheInputsNamedAndNoDatasetWritten() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("glm-nodoc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var g = SystemRandomNumberGenerator()
        var inputs: [String] = []
        for name in ["noise-a.jsonl", "noise-b.jsonl"] {
            // Bytes below 0x80 except newlines and braces: never valid JSON lines with a "text" field.
            let bytes = (0..<4096).map { i in i % 97 == 96 ? UInt8(ascii: "\n") : UInt8.random(in: 0x21...0x7a, using: &g) }
            let url = directory.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            inputs.append(url.path)
        }
        let output = directory.appendingPathComponent("out").path
        let options = PrepareOptions(inputs: inputs, output: output, preset: "test-words", workers: 2)
        let tokenizer = WordTokenizer(words: DataPrepareTests.words)
        XCTAssertThrowsError(try DatasetPreparer(options: options, reporter: CollectingReporter(), makeTokenizer: { tokenizer }).run()) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("no usable document"), message)
            for input in inputs { XCTAssertTrue(message.contains(input), message) }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output + "/" + TokenDatasetMeta.metaFile))
        XCTAssertThrowsError(try TokenDataset(directory: output))
    }
}
