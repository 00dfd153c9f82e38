// The tables (or JSON) of a training-step profile.
import Foundation
import GLMEngine

/// The tables (or JSON) printed by `glm bench profile`.
public struct ProfileReport: Sendable {
    public let summary: ProfileSummary
    public let plainMedianMs: Double
    public let profiledMedianMs: Double
    public let tokensPerStep: Int
    public let flopsPerToken: Double
    public let top: Int

    public init(summary: ProfileSummary, plainMedianMs: Double, profiledMedianMs: Double, tokensPerStep: Int,
                flopsPerToken: Double, top: Int) {
        self.summary = summary; self.plainMedianMs = plainMedianMs; self.profiledMedianMs = profiledMedianMs
        self.tokensPerStep = tokensPerStep; self.flopsPerToken = flopsPerToken; self.top = top
    }

    public var tokensPerSecond: Double { Double(tokensPerStep) / (plainMedianMs / 1000) }
    public var modelGFLOPs: Double { flopsPerToken * tokensPerSecond / 1e9 }

    static func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
        let p = String(repeating: " ", count: max(0, w - s.count))
        return right ? p + s : s + p
    }

    static func rate(_ r: ProfileSummary.Row) -> String {
        r.rate.map { String(format: "%.1f %@", $0, r.rateUnit) } ?? ""
    }

    public var text: String {
        var out = ""
        let s = summary
        out += String(format: "\nstep wall (median): plain %.1f ms, profiled %.1f ms (profiler cost %+.1f %%)\n",
                      plainMedianMs, profiledMedianMs, (profiledMedianMs / plainMedianMs - 1) * 100)
        out += String(format: "tokens/s %.1f (plain step); FLOP model %.1f MFLOP/token → %.1f GFLOP/s achieved\n",
                      tokensPerSecond, flopsPerToken / 1e6, modelGFLOPs)
        out += String(format: "profiled phases per step: forward %.1f ms, backward %.1f ms, optimizer %.1f ms (wall %.1f ms)\n\n",
                      s.phaseSeconds(.forward) * 1000 / Double(s.steps), s.phaseSeconds(.backward) * 1000 / Double(s.steps),
                      s.phaseSeconds(.step) * 1000 / Double(s.steps), s.wallMsPerStep)
        out += Self.pad("category", 14) + Self.pad("ms/step", 10, right: true) + Self.pad("share", 9, right: true) + "   rate\n"
        for r in s.categories {
            out += Self.pad(r.label, 14) + Self.pad(String(format: "%.1f", r.msPerStep), 10, right: true)
                + Self.pad(String(format: "%.1f %%", r.share * 100), 9, right: true) + "   " + Self.rate(r) + "\n"
        }
        out += Self.pad("total (wall)", 14) + Self.pad(String(format: "%.1f", s.wallMsPerStep), 10, right: true)
            + Self.pad("100.0 %", 9, right: true) + "\n\n"
        out += "top \(top) ops (exclusive time):\n"
        out += Self.pad("op", 58) + Self.pad("ms/step", 10, right: true) + Self.pad("share", 9, right: true)
            + Self.pad("calls", 7, right: true) + "   rate\n"
        for r in s.topOps(top) {
            out += Self.pad(r.label, 58) + Self.pad(String(format: "%.1f", r.msPerStep), 10, right: true)
                + Self.pad(String(format: "%.1f %%", r.share * 100), 9, right: true)
                + Self.pad(String(format: "%.0f", r.callsPerStep), 7, right: true) + "   " + Self.rate(r) + "\n"
        }
        return out
    }

    public func json(header: String) -> String {
        func row(_ r: ProfileSummary.Row) -> String {
            let label = r.label.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            var f = "{\"label\":\"\(label)\",\"category\":\"\(r.category.rawValue)\","
                + String(format: "\"ms_per_step\":%.2f,\"share\":%.4f,\"calls_per_step\":%.1f", r.msPerStep, r.share, r.callsPerStep)
            if let rate = r.rate { f += String(format: ",\"rate\":%.2f,\"unit\":\"%@\"", rate, r.rateUnit) }
            return f + "}"
        }
        return "{\"workload\":\"\(header)\","
            + String(format: "\"plain_step_ms\":%.1f,\"profiled_step_ms\":%.1f,\"tokens_per_s\":%.1f,\"model_gflops\":%.1f,",
                     plainMedianMs, profiledMedianMs, tokensPerSecond, modelGFLOPs)
            + "\"categories\":[" + summary.categories.map(row).joined(separator: ",") + "],"
            + "\"top_ops\":[" + summary.topOps(top).map(row).joined(separator: ",") + "]}"
    }
}
