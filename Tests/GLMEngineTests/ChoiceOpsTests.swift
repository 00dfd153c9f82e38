import XCTest
@testable import GLMEngine

/// The cloze scoring ops (`pickColumns`, `weightedGather`) and the choice losses of the original's
/// `finetune_forward_step` (`choiceLoss`): forward against naive float64 references, backward against
/// the references' finite differences.
final class ChoiceOpsTests: XCTestCase {
    func testPickColumnsRawAndLogSoftmax() throws {
        let (n, v) = (5, 11)
        let indices = [[0, 3, 10], [1, 1, 2], [10, 9, 8], [4, 0, 4], [7, 2, 5]]
        for logSoftmax in [false, true] {
            func reference(_ x: [[Double]]) -> [Double] {
                (0..<n).flatMap { r -> [Double] in
                    let row = Array(x[0][(r * v)..<((r + 1) * v)])
                    let lse = logSoftmax ? log(row.map(exp).reduce(0, +)) : 0
                    return indices[r].map { row[$0] - lse }
                }
            }
            try gradcheck("pickColumns logSoftmax=\(logSoftmax)", inputs: [randn([n, v], seed: 11, std: 3)],
                          reference: reference,
                          referenceBackward: { x, dy in
                              var g = [Double](repeating: 0, count: n * v)
                              for r in 0..<n {
                                  let row = Array(x[0][(r * v)..<((r + 1) * v)])
                                  let z = row.map(exp).reduce(0, +)
                                  for (c, i) in indices[r].enumerated() {
                                      let d = dy[r * 3 + c]
                                      g[r * v + i] += d
                                      if logSoftmax { for j in 0..<v { g[r * v + j] -= d * exp(row[j]) / z } }
                                  }
                              }
                              return [g]
                          },
                          op: { try $0.pickColumns($1[0], indices: indices, logSoftmax: logSoftmax) })
        }
        XCTAssertThrowsError(try Tape().pickColumns(Variable(randn([2, 3], seed: 1)), indices: [[0], [3]]))
        XCTAssertThrowsError(try Tape().pickColumns(Variable(randn([2, 3], seed: 1)), indices: [[0]]))
    }

    func testWeightedGather() throws {
        let terms: [[(index: Int, weight: Double)]] = [[(0, 1), (3, 0.5)], [], [(6, -2), (6, 1), (1, 0.25)], [(0, 1), (3, 0.5)]]
        try gradcheck("weightedGather", inputs: [randn([7], seed: 12)],
                      reference: { x in terms.map { $0.reduce(0) { $0 + $1.weight * x[0][$1.index] } } },
                      referenceBackward: { _, dy in
                          var g = [Double](repeating: 0, count: 7)
                          for (j, t) in terms.enumerated() { for (i, w) in t { g[i] += w * dy[j] } }
                          return [g]
                      },
                      op: { try $0.weightedGather($1[0], terms: terms, shape: [2, 2]) })
    }

    /// The losses as the original writes them (torch semantics), naively in float64.
    static func referenceLoss(_ s: [Double], labels: [Int], mask: [[Double]]?, c: Int, _ f: ChoiceLossFunction) -> Double {
        let b = labels.count
        let m = (0..<(b * c)).map { mask?[$0 / c][$0 % c] ?? 1 }
        let x = (0..<(b * c)).map { s[$0] * m[$0] - 10000 * (1 - m[$0]) }
        func row(_ r: Int) -> [Double] { Array(x[(r * c)..<((r + 1) * c)]) }
        let ce = (0..<b).map { r -> Double in
            let mx = row(r).max()!
            return mx + log(row(r).map { exp($0 - mx) }.reduce(0, +)) - x[r * c + labels[r]]
        }.reduce(0, +) / Double(b)
        let generative = -(0..<b).map { x[$0 * c + labels[$0]] }.reduce(0, +) / Double(b)
        switch f {
        case .crossEntropy: return ce
        case .generative: return generative
        case .mix: return generative + ce
        case .hinge:
            var total = 0.0
            for r in 0..<b {
                let correct: Double = x[r * c + labels[r]]
                for v in row(r) { total += max(0.0, 1.0 + v - correct) }
            }
            return total / Double(b) - 1
        case .adapet:
            var total = 0.0
            for i in 0..<(b * c) {
                let sign: Double = i % c == labels[i / c] ? -1 : 1
                total += s[i] * sign * m[i]
            }
            return total / Double(b)
        }
    }

    func testChoiceLossValuesByHand() throws {
        let expected: [ChoiceLossFunction: Double] = [.crossEntropy: 2.4076059644443806, .hinge: 5, .generative: -1,
                                                      .mix: 1.4076059644443806, .adapet: 4]
        for (f, e) in expected {
            let loss = try Tape().choiceLoss(Variable(try Tensor(shape: [1, 3], values: [1, 2, 3]), requiresGrad: true), labels: [0], function: f)
            XCTAssertEqual(Double(loss.value.floats[0]), e, accuracy: 1e-6, f.rawValue)
        }
        // A padding choice scores −10000: no probability mass, no hinge term, no gradient.
        let tape = Tape()
        let s = Variable(try Tensor(shape: [1, 2], values: [2, 5]), requiresGrad: true)
        let loss = try tape.choiceLoss(s, labels: [0], choiceMask: [[1, 0]], function: .crossEntropy)
        XCTAssertEqual(loss.value.floats[0], 0, accuracy: 1e-6)
        try tape.backward(loss)
        XCTAssertEqual(s.grad!.toFloats(), [0, 0])
        XCTAssertEqual(ChoiceLossFunction(rawValue: "cross_entropy"), .crossEntropy)
        XCTAssertEqual(ChoiceLossFunction(rawValue: "mix"), .mix)
        XCTAssertThrowsError(try Tape().choiceLoss(s, labels: [2], function: .mix))
    }

    /// d loss / d scores of every loss function vs central finite differences of the float64 reference,
    /// with and without a choice mask (masked entries get exactly zero gradient except for adapet).
    func testChoiceLossGradientsMatchFiniteDifferences() throws {
        let (b, c) = (4, 5)
        let labels = [0, 3, 1, 0]
        let masks: [[[Double]]?] = [nil, [[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]]]
        for mask in masks {
            for f in ChoiceLossFunction.allCases {
                let x = randn([b, c], seed: 21, std: 2)
                let x64 = doubles(x)
                let tape = Tape()
                let v = Variable(x.copy(), requiresGrad: true)
                let loss = try tape.choiceLoss(v, labels: labels, choiceMask: mask?.map { $0.map(Float.init) }, function: f)
                let reference = Self.referenceLoss(x64, labels: labels, mask: mask, c: c, f)
                XCTAssertEqual(Double(loss.value.floats[0]), reference, accuracy: 1e-5 * max(1, abs(reference)), "\(f) forward")
                try tape.backward(loss)
                let analytic = doubles(v.grad!)
                let worst = gradcheck(x64, analytic: analytic, h: 1e-5) { Self.referenceLoss($0, labels: labels, mask: mask, c: c, f) }
                XCTAssertLessThan(worst, 1e-4, "\(f) mask=\(mask != nil): gradient vs finite differences")
                if let mask, f != .adapet {
                    for i in 0..<(b * c) where mask[i / c][i % c] == 0 { XCTAssertEqual(analytic[i], 0, "\(f): padding gets no gradient") }
                }
            }
        }
    }
}
