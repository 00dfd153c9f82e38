import ArgumentParser
import Foundation
import GLMEngine

/// `--dtype fp32|bf16|auto` of `glm pretrain`, `glm finetune` and `glm bench train|forward`: the GEMM
/// precision of training steps and forward passes. `auto` (the command-line default; the library's stays
/// fp32) probes this machine (`ComputeProbe`: native bf16 in the CPU, then oneDNN bf16 vs fp32 matmul
/// speed) and picks bf16 only where it is native and measurably faster; it prints what it picked and why.
enum ComputeDType: String, ExpressibleByArgument, CaseIterable {
    case fp32, bf16, auto

    init?(argument: String) {
        switch argument.lowercased() {
        case "fp32", "f32", "float32": self = .fp32
        case "bf16", "bfloat16": self = .bf16
        case "auto": self = .auto
        default: return nil
        }
    }

    /// The precision to run with; `auto` runs the probe (call after the thread count is set) and reports
    /// its reasoning through `say`.
    func resolve(say: (String) -> Void) throws -> GEMMInputType {
        switch self {
        case .fp32: return .float32
        case .bf16: return .bfloat16
        case .auto:
            let probe = try ComputeProbe.run()
            say("--dtype auto → \(probe.summary)")
            return probe.choice
        }
    }

    /// `resolve` for the benchmark commands: the reasoning is printed indented, to stderr when stdout
    /// must stay one JSON line.
    func resolve(json: Bool) throws -> GEMMInputType {
        try resolve(say: { line in
            if json { FileHandle.standardError.write(Data(("  " + line + "\n").utf8)) } else { print("  " + line) }
        })
    }
}
