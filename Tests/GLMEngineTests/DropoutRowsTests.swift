import XCTest
@testable import GLMEngine

/// Data-parallel dropout: a tape holding rows [first, first + local) of a global batch (`Tape.dropoutRows`)
/// draws, for every dropout call, exactly the masks of those rows in a one-process tape over the whole batch.
final class DropoutRowsTests: XCTestCase {
    let rows = 4

    /// Rows `range` of a tensor whose outermost dimension is the batch.
    func slice(_ t: Tensor, _ range: Range<Int>) throws -> Tensor {
        let perRow = t.count / t.shape[0]
        return try Tensor(shape: [range.count] + t.shape.dropFirst(), values: Array(t.toFloats()[(range.lowerBound * perRow)..<(range.upperBound * perRow)]))
    }

    /// Two element-wise dropouts of different row sizes, then attention dropout on the batched path (5
    /// queries) and on the by-heads path (16 queries): the outputs of every call, flattened.
    func run(_ tape: Tape, _ inputs: [Tensor], seps: [Int]) throws -> [[Float]] {
        let mask5 = try AttentionMask.glm(seps: seps, batch: seps.count, queryLength: 5)
        let mask16 = try AttentionMask.glm(seps: seps, batch: seps.count, queryLength: 16)
        return [
            try tape.dropout(Variable(inputs[0]), p: 0.3).value.toFloats(),
            try tape.dropout(Variable(inputs[1]), p: 0.5).value.toFloats(),
            try tape.attention(qkv: Variable(inputs[2]), heads: 2, mask: mask5, dropout: 0.2).value.toFloats(),
            try tape.attention(qkv: Variable(inputs[3]), heads: 2, mask: mask16, dropout: 0.2).value.toFloats(),
        ]
    }

    func testRowsOfTheGlobalBatchGetTheGlobalMasks() throws {
        let inputs = [Tensor.randomNormal([rows, 3, 5], seed: 1), Tensor.randomNormal([rows, 2, 7], seed: 2),
                      Tensor.randomNormal([rows, 5, 18], seed: 3), Tensor.randomNormal([rows, 16, 18], seed: 4)]
        let seps = [2, 5, 3, 1]
        let whole = try run(Tape(recording: true, training: true, dropoutSeed: 99), inputs, seps: seps)
        for part in [0..<1, 1..<3, 3..<4, 0..<4] {
            let tape = Tape(recording: true, training: true, dropoutSeed: 99)
            tape.dropoutRows = DropoutRows(first: part.lowerBound, local: part.count, global: rows)
            let local = try run(tape, try inputs.map { try slice($0, part) }, seps: Array(seps[part]))
            for (call, (mine, all)) in zip(local, whole).enumerated() {
                let perRow = all.count / rows
                XCTAssertEqual(mine, Array(all[(part.lowerBound * perRow)..<(part.upperBound * perRow)]),
                               "call \(call), rows \(part)")
            }
        }
        // Without dropoutRows a tape over two rows draws other masks (the window is what makes them equal).
        let plain = try run(Tape(recording: true, training: true, dropoutSeed: 99), try inputs.map { try slice($0, 1..<3) }, seps: [5, 3])
        XCTAssertNotEqual(plain[1], Array(whole[1][14..<42]))
    }
}
