import ArgumentParser
import GLMEngine
import GLM

/// `--weights fp32|bf16|int8|auto` of `glm generate`, `glm serve` and `glm bench decode`: the storage of
/// the packed decoding weights (the K/V cache stays fp32).
///
/// `auto` is the fastest format whose top-1 agreement with fp32 is ≥ 99.5 % on the built-in model
/// (`glm bench weights` on its 735 held-out verses, one word masked: bf16 0.9989, int8 0.9911; README
/// "Decoding weights"): bf16 where the CPU computes bf16 natively (half the bytes per step of a
/// bandwidth-bound decode), else fp32 (without native bf16, oneDNN's emulated bf16 products are slower).
enum DecodingWeightsOption: String, ExpressibleByArgument, CaseIterable {
    case fp32, bf16, int8, auto

    init?(argument: String) {
        if argument.lowercased() == "auto" { self = .auto; return }
        guard let t = GEMMInputType(shortName: argument) else { return nil }
        switch t {
        case .float32: self = .fp32
        case .bfloat16: self = .bf16
        case .int8: self = .int8
        }
    }

    /// The storage to pack with.
    var resolved: GEMMInputType {
        switch self {
        case .fp32: return .float32
        case .bf16: return .bfloat16
        case .int8: return .int8
        case .auto: return ComputeProbe.cpuHasNativeBF16 ? .bfloat16 : .float32
        }
    }

    /// The storage for the model at `path`, and whether it is decoded memory-mapped: a bf16/int8
    /// conversion (`glm convert --dtype bf16|int8`) is decoded from its file as it is (auto picks its
    /// storage; asking for another one is an error that says what to do).
    func resolved(forModelAt path: String) throws -> (storage: GEMMInputType, mapped: Bool) {
        guard let stored = MappedModel.storage(of: path) else { return (resolved, false) }
        if self == .auto || resolved == stored { return (stored, true) }
        throw ValidationError("\(path) is a \(stored.shortName) conversion, decoded memory-mapped with its \(stored.shortName) weights: use --weights \(stored.shortName) or auto (for \(rawValue) weights, convert the original checkpoint with glm convert --dtype f32)")
    }

    static let help = ArgumentHelp(
        "Decoding weights: fp32 (exact), bf16, int8 (weight-only, per-channel scales) or auto (bf16 where the CPU has native bf16, else fp32: the fastest format with ≥ 99.5 % top-1 agreement with fp32 on the built-in model). --dtype is an alias.")
}
