import ArgumentParser
import Foundation
import GLMEngine
import GLM

/// `--weights fp32|bf16|int8|auto` of `glm generate`, `glm serve` and `glm bench decode`: the storage of
/// the packed decoding weights (and, unless `--kv-cache` says otherwise, of the K/V cache: bf16 with bf16 or
/// int8 weights, see `GLMKVCache.storage(forWeights:)`).
///
/// `auto` is the fastest format whose top-1 agreement with fp32 is ≥ 99.5 % on the built-in model
/// (`glm bench weights` on its 735 held-out verses, one word masked: bf16 0.9989, int8 0.9969 since its
/// tied output projection stays bf16; README "Decoding weights"): int8 wherever the int8 kernel has a
/// vector path (AVX2 or AVX-512: a quarter of fp32's layer bytes per step, the fastest format at batch 1
/// and 8 on the machines measured), else fp32.
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
        case .auto: return Runtime.cpuLevel >= 1 ? .int8 : .float32
        }
    }

    /// The storage for the model at `path`, and whether it is decoded memory-mapped (`MappedModel`: a
    /// bf16/int8 conversion read in place, no float32 copy of its layer weights). `mmap`:
    /// - auto: map a conversion whose float32 copy would take more than a quarter of this machine's memory
    ///   (GLM-10B: 39.5 GB) when the requested weights are its own (`--weights auto` picks them); smaller
    ///   models load as float32 and pack as asked, exactly as before (the built-in model is a bf16 file);
    /// - always: map any conversion (the requested weights must be its own);
    /// - never: always the float32 path.
    func resolved(forModelAt path: String, mmap: MemoryMapOption) throws -> (storage: GEMMInputType, mapped: Bool) {
        guard mmap != .never, let info = MappedModel.inspect(path) else { return (resolved, false) }
        let (stored, parameters) = info
        let matches = self == .auto || resolved == stored
        let big = Double(parameters) * 4 > Double(ProcessInfo.processInfo.physicalMemory) / 4
        guard mmap == .always || big else { return (resolved, false) }
        guard matches else {
            throw ValidationError("\(path) is a conversion to \(stored.shortName), decoded memory-mapped with its \(stored.shortName) weights: use --weights \(stored.shortName) or auto (for \(rawValue) weights, convert the original checkpoint with glm convert --dtype f32\(big ? "; its float32 copy would need \(String(format: "%.1f", Double(parameters) * 4 / 1e9)) GB" : ", or pass --mmap never"))")
        }
        return (stored, true)
    }

    static let help = ArgumentHelp(
        "Decoding weights: fp32 (exact), bf16, int8 (weight-only, per-channel scales; the tied output projection stays bf16) or auto (int8 where the CPU has AVX2 or AVX-512, else fp32: the fastest format with ≥ 99.5 % top-1 agreement with fp32 on the built-in model). --dtype is an alias.")
}

/// `--kv-cache fp32|bf16|auto` of `glm generate`, `glm serve` and `glm bench decode`: the element type of the
/// decoding K/V caches; auto follows the decoding weights (`GLMKVCache.storage(forWeights:)`).
enum KVCacheOption: String, ExpressibleByArgument, CaseIterable {
    case fp32, bf16, auto

    func storage(forWeights weights: GEMMInputType) -> DType {
        switch self {
        case .fp32: return .float32
        case .bf16: return .bfloat16
        case .auto: return GLMKVCache.storage(forWeights: weights)
        }
    }

    static let help = ArgumentHelp(
        "K/V cache precision: fp32, bf16 (half the cache memory and bytes read per step; keys and values rounded once) or auto (bf16 with bf16/int8 weights, else fp32).")
}

/// `--mmap auto|always|never` of `glm generate` and `glm serve`: whether a bf16/int8 conversion is decoded
/// memory-mapped (see `DecodingWeightsOption.resolved(forModelAt:mmap:)`).
enum MemoryMapOption: String, ExpressibleByArgument, CaseIterable {
    case auto, always, never

    static let help = ArgumentHelp(
        "Decode a bf16/int8 conversion (glm convert --dtype bf16|int8) memory-mapped, without a float32 copy of its layer weights: auto (when the float32 copy would exceed a quarter of the RAM, e.g. GLM-10B), always, never.")
}
