import Foundation

/// SplitMix64 (Steele, Lea, Flood 2014): the one implementation of the step, shared by tensor
/// initialisation (`SeededGenerator`) and the training data and dropout seeds (Training's `DataRandom`).
public struct SplitMix64: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A small seeded generator (SplitMix64) for initialising tensors reproducibly. Not for dropout: dropout
/// uses the kernels' counter-based Philox so that masks do not depend on the thread count.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var core: SplitMix64

    /// The stream starts one golden-ratio step after `seed` (kept: existing seeds give the same weights).
    public init(seed: UInt64) { core = SplitMix64(seed: seed &+ 0x9E37_79B9_7F4A_7C15) }

    public mutating func next() -> UInt64 { core.next() }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Standard normal (Box–Muller).
    public mutating func nextNormal() -> Double {
        var u = nextUniform()
        while u <= 0 { u = nextUniform() }
        let v = nextUniform()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}

extension Tensor {
    /// float32 tensor of N(mean, std²) samples from `seed` (reproducible on every machine).
    public static func randomNormal(_ shape: [Int], mean: Float = 0, std: Float = 1, seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        let t = Tensor(uninitialized: shape, dtype: .float32)
        let p = t.floats
        for i in 0..<t.count { p[i] = mean + std * Float(g.nextNormal()) }
        return t
    }

    /// float32 tensor of uniform samples in [low, high) from `seed`.
    public static func randomUniform(_ shape: [Int], low: Float = 0, high: Float = 1, seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        let t = Tensor(uninitialized: shape, dtype: .float32)
        let p = t.floats
        for i in 0..<t.count { p[i] = low + (high - low) * Float(g.nextUniform()) }
        return t
    }
}
