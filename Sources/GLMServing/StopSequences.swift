/// OpenAI `stop`: the completion ends before the first occurrence of any stop string. Streamed text is
/// held back while it could still be the start of a stop string, so the streamed pieces concatenate to
/// exactly the non-streamed (truncated) text.
struct StopSequences {
    let stops: [String]
    private(set) var all = ""
    /// Characters of `all` already handed out.
    private var sent = 0
    private(set) var stopped = false

    init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds generated text; returns what may be sent now (and whether a stop string was reached).
    mutating func push(_ text: String) -> String {
        guard !stopped else { return "" }
        all += text
        if let cut = firstStop() {
            stopped = true
            all = String(all[..<cut])
            return takeAll()
        }
        let hold = max(0, (stops.map(\.count).max() ?? 1) - 1)
        let safe = max(sent, all.count - hold)
        let piece = String(all.dropFirst(sent).prefix(safe - sent))
        sent = safe
        return piece
    }

    /// The generation ended: everything not yet sent.
    mutating func finish() -> String { takeAll() }

    private mutating func takeAll() -> String {
        let piece = String(all.dropFirst(sent))
        sent = all.count
        return piece
    }

    private func firstStop() -> String.Index? {
        stops.compactMap { all.range(of: $0)?.lowerBound }.min()
    }
}
