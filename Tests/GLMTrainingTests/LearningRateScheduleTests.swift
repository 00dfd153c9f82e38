import Foundation
import XCTest
@testable import GLMTraining

/// `LearningRateSchedule` against learning_rates.py (AnnealingLR) as train_utils.py builds it:
/// warmup_iter = warmup · N, end_iter = N − warmup_iter, decay_ratio stored as 1/ratio.
final class LearningRateScheduleTests: XCTestCase {
    /// AnnealingLR.get_lr transcribed line by line (the reference the schedule is compared with).
    func original(_ t: Int, peak: Double, warmup: Double, n: Int, style: String, ratio: Double) -> Double {
        let warmupIter = warmup * Double(n)
        let endIter = Double(n) - warmupIter
        let decayRatio = 1 / ratio
        let numIters = Double(t)
        if warmupIter > 0 && numIters <= warmupIter { return peak * numIters / warmupIter }
        switch style {
        case "linear":
            let r = (numIters - warmupIter) / endIter
            return peak - peak * (1 - 1 / decayRatio) * r
        case "cosine":
            let r = min(1.0, (numIters - warmupIter) / endIter)
            return peak / decayRatio * ((cos(Double.pi * r) + 1) * (decayRatio - 1) / 2 + 1)
        default:
            return peak
        }
    }

    func testEveryStyleMatchesTheOriginalFormulaAtEveryIteration() {
        for style in LearningRateSchedule.Style.allCases {
            for (warmup, n, ratio) in [(0.01, 1000, 0.1), (0.05, 160, 0.05), (0.0, 50, 0.5), (0.1, 7, 0.1)] {
                let s = LearningRateSchedule(peak: 2e-4, warmup: warmup, decayIterations: n, style: style, decayRatio: ratio)
                for t in 0...n {
                    let ref = original(t, peak: 2e-4, warmup: warmup, n: n, style: style.rawValue, ratio: ratio)
                    XCTAssertEqual(s.rate(iteration: t), ref, accuracy: 1e-15, "\(style) warmup \(warmup) N \(n) t \(t)")
                }
            }
        }
    }

    /// Hand-computed values: peak 1e-3, N 100, warm-up 10 % (10 iterations), ratio 0.1.
    func testHandComputedValues() {
        let cos = LearningRateSchedule(peak: 1e-3, warmup: 0.1, decayIterations: 100, style: .cosine, decayRatio: 0.1)
        XCTAssertEqual(cos.rate(iteration: 0), 0)
        XCTAssertEqual(cos.rate(iteration: 5), 5e-4, accuracy: 1e-15)
        XCTAssertEqual(cos.rate(iteration: 10), 1e-3, accuracy: 1e-15)
        XCTAssertEqual(cos.rate(iteration: 55), 5.5e-4, accuracy: 1e-15)     // 1e-4 · (1 · 9/2 + 1)
        XCTAssertEqual(cos.rate(iteration: 100), 1e-4, accuracy: 1e-15)
        XCTAssertEqual(cos.rate(iteration: 150), 1e-4, accuracy: 1e-15)     // cosine holds the floor
        let lin = LearningRateSchedule(peak: 1e-3, warmup: 0.1, decayIterations: 100, style: .linear, decayRatio: 0.1)
        XCTAssertEqual(lin.rate(iteration: 55), 5.5e-4, accuracy: 1e-15)     // 1e-3 − 1e-3 · 0.9 · 0.5
        XCTAssertEqual(lin.rate(iteration: 100), 1e-4, accuracy: 1e-15)
        // The one deliberate difference: the original's linear decay continues below the floor past N.
        XCTAssertEqual(lin.rate(iteration: 200), 1e-4, accuracy: 1e-15)
        XCTAssertLessThan(original(200, peak: 1e-3, warmup: 0.1, n: 100, style: "linear", ratio: 0.1), 0)
        let const = LearningRateSchedule(peak: 1e-3, warmup: 0.1, decayIterations: 100, style: .constant)
        XCTAssertEqual(const.rate(iteration: 3), 3e-4, accuracy: 1e-15)
        XCTAssertEqual(const.rate(iteration: 80), 1e-3)
        // Optimizer step k uses the scheduler value after k − 1 steps (the original steps it after the update).
        XCTAssertEqual(cos.rate(forStep: 1), 0)
        XCTAssertEqual(cos.rate(forStep: 11), 1e-3, accuracy: 1e-15)
    }

    func testInvalidSettingsAreClearErrors() {
        XCTAssertThrowsError(try LearningRateSchedule(peak: 1e-4, warmup: 1.5, decayIterations: 10).validate())
        XCTAssertThrowsError(try LearningRateSchedule(peak: 1e-4, decayIterations: 0).validate())
        XCTAssertThrowsError(try LearningRateSchedule(peak: 1e-4, decayIterations: 10, decayRatio: 0).validate()) { e in
            XCTAssertTrue("\(e)".contains("--lr-decay-ratio"))
        }
    }
}
