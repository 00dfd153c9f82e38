// The learning-rate schedule of the original's pre-training: `AnnealingLR` (learning_rates.py) as
// `get_learning_rate_scheduler` (train_utils.py) builds it.
import Foundation

/// Linear warm-up from 0, then decay to `decayRatio · peak`.
///
/// With `N = decayIterations` (the original's `--lr-decay-iters`, default `--train-iters`),
/// `W = warmup · N` (a FRACTION of N, as `--warmup .05`) and `E = N − W`, the rate at scheduler
/// iteration `t` is:
/// - `t ≤ W` (and W > 0): `peak · t / W`
/// - cosine: `peak/R · ((cos(π · min(1, (t − W)/E)) + 1) · (R − 1)/2 + 1)` with `R = 1/decayRatio`
/// - linear: `peak − peak · (1 − decayRatio) · (t − W)/E`
/// - constant (and the original's unimplemented "exponential"): `peak`
///
/// The original steps the scheduler AFTER each optimizer step, starting from `t = 0`: optimizer step
/// `k` (1-based) uses `lr(k − 1)`, so the very first update runs at rate 0 when there is a warm-up.
/// `rate(forStep:)` encodes exactly that.
///
/// One deliberate difference: past `N` the original's linear formula keeps falling (and turns
/// negative); here the linear ratio is capped at 1, so the rate stays at `decayRatio · peak` as cosine does.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    public enum Style: String, Codable, Sendable, CaseIterable {
        case constant, linear, cosine, exponential
    }

    public var peak: Double
    /// Fraction of `decayIterations` spent warming up (`--warmup`, the original's default 0.01).
    public var warmup: Double
    /// `--lr-decay-iters` (default: the number of training steps).
    public var decayIterations: Int
    public var style: Style
    /// `--lr-decay-ratio`: the final rate as a fraction of the peak (the original's default 0.1).
    public var decayRatio: Double

    public init(peak: Double, warmup: Double = 0.01, decayIterations: Int, style: Style = .linear, decayRatio: Double = 0.1) {
        self.peak = peak; self.warmup = warmup; self.decayIterations = decayIterations
        self.style = style; self.decayRatio = decayRatio
    }

    public func validate() throws {
        guard peak >= 0, peak.isFinite else { throw TrainingError.invalidOption("--lr must be a finite number ≥ 0, got \(peak)") }
        guard warmup >= 0, warmup <= 1 else { throw TrainingError.invalidOption("--warmup is a fraction of the decay iterations in [0, 1], got \(warmup)") }
        guard decayIterations >= 1 else { throw TrainingError.invalidOption("--lr-decay-iters must be ≥ 1, got \(decayIterations)") }
        guard decayRatio > 0, decayRatio <= 1 else { throw TrainingError.invalidOption("--lr-decay-ratio must be in (0, 1], got \(decayRatio)") }
    }

    /// Warm-up length in iterations (a real number, as in the original).
    public var warmupIterations: Double { warmup * Double(max(1, decayIterations)) }

    /// The rate after `t` scheduler steps (the original's `get_lr()` with `num_iters = t`).
    public func rate(iteration t: Int) -> Double {
        let n = Double(max(1, decayIterations))
        let w = warmupIterations
        let e = n - w
        let ti = Double(t)
        if w > 0 && ti <= w { return peak * ti / w }
        let progress = e > 0 ? (ti - w) / e : 1
        switch style {
        case .cosine:
            let r = 1 / decayRatio
            let p = min(1.0, progress)
            return peak / r * ((cos(Double.pi * p) + 1) * (r - 1) / 2 + 1)
        case .linear:
            return peak - peak * (1 - decayRatio) * min(1.0, progress)
        case .constant, .exponential:
            return peak
        }
    }

    /// The rate used by optimizer step `step` (1-based): `rate(iteration: step − 1)`.
    public func rate(forStep step: Int) -> Double { rate(iteration: step - 1) }
}
