// The table `glm bench ops` prints.
import Foundation

extension OpsBenchmark {
    /// The 1-, 5- and 15-minute load averages: on a shared machine they say how far to trust the rates.
    public static func loadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "n/a"
    }

    /// One line per row: rate, ceiling and share, probed ceiling and share.
    public static func table(_ rows: [BenchmarkRow]) -> String {
        func pad(_ s: String, _ w: Int, right: Bool = false) -> String {
            let p = String(repeating: " ", count: max(0, w - s.count))
            return right ? p + s : s + p
        }
        var out = pad("op", 20) + pad("shape", 20) + pad("type", 6) + pad("rate", 10, right: true) + "  "
            + pad("unit", 8) + pad("ceiling", 8, right: true) + pad("share", 8, right: true)
            + pad("probed", 8, right: true) + pad("share", 8, right: true) + "\n"
        out += String(repeating: "-", count: 96) + "\n"
        for r in rows {
            out += pad(r.name, 20) + pad(r.shape, 20) + pad(r.dtype, 6) + pad(String(format: "%.1f", r.rate), 10, right: true)
                + "  " + pad(r.unit, 8) + pad(String(format: "%.0f", r.ceiling), 8, right: true)
                + pad(String(format: "%.0f %%", r.share * 100), 8, right: true)
                + pad(r.measuredCeiling.map { String(format: "%.0f", $0) } ?? "-", 8, right: true)
                + pad(r.measuredShare.map { String(format: "%.0f %%", $0 * 100) } ?? "-", 8, right: true) + "\n"
        }
        return out
    }
}
