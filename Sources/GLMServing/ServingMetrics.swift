import Foundation

/// The server's counters, written as Prometheus text exposition (hand-written: a handful of series,
/// no client library needed). Thread-safe.
public final class ServingMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var requests: [String: Int] = [:]          // "endpoint|status" → count
    private var queueDepth = 0
    private var runningRows = 0
    private var tokens = 0
    private var steps = 0
    private var stepRows = 0
    /// Tokens per whole second of the last ~10 s (older seconds are dropped as new ones come).
    private var tokensBySecond: [Int: Int] = [:]
    /// Request latency histogram (seconds).
    public static let latencyBuckets: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    private var latencyCounts = [Int](repeating: 0, count: latencyBuckets.count)
    private var latencySum = 0.0
    private var latencyCount = 0
    public let maxBatch: Int

    public init(maxBatch: Int = 16) { self.maxBatch = maxBatch }

    public func recordRequest(endpoint: String, status: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        requests["\(endpoint)|\(status)", default: 0] += 1
        for (i, b) in Self.latencyBuckets.enumerated() where seconds <= b { latencyCounts[i] += 1 }
        latencySum += seconds
        latencyCount += 1
    }

    func setQueue(_ n: Int) { lock.lock(); queueDepth = n; lock.unlock() }
    func setRunning(_ n: Int) { lock.lock(); runningRows = n; lock.unlock() }

    func addTokens(_ n: Int) {
        lock.lock(); defer { lock.unlock() }
        tokens += n
        let second = Int(Date().timeIntervalSince1970)
        if tokensBySecond[second] == nil { tokensBySecond = tokensBySecond.filter { $0.key > second - 11 } }
        tokensBySecond[second, default: 0] += n
    }

    func recordStep(rows: Int, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        steps += 1
        stepRows += rows
    }

    /// Rows running now (for tests and /health).
    public var running: Int { lock.lock(); defer { lock.unlock() }; return runningRows }
    public var queued: Int { lock.lock(); defer { lock.unlock() }; return queueDepth }

    /// Completion tokens per second over the last 10 seconds.
    private func tokensPerSecond(now: Date) -> Double {
        let second = Int(now.timeIntervalSince1970)
        return Double(tokensBySecond.filter { $0.key >= second - 10 && $0.key < second }.values.reduce(0, +)) / 10
    }

    /// The Prometheus text exposition (format 0.0.4).
    public func text() -> String {
        lock.lock(); defer { lock.unlock() }
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ lines: [String]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n" + lines.map { $0 + "\n" }.joined()
        }
        metric("glm_requests_total", "counter", "HTTP requests by endpoint and status.",
               requests.keys.sorted().map { key in
                   let parts = key.split(separator: "|", maxSplits: 1).map(String.init)
                   return "glm_requests_total{endpoint=\"\(parts[0])\",status=\"\(parts[1])\"} \(requests[key]!)"
               })
        metric("glm_queue_depth", "gauge", "Rows waiting to join the decode batch.", ["glm_queue_depth \(queueDepth)"])
        metric("glm_batch_rows", "gauge", "Rows in the running decode batch.", ["glm_batch_rows \(runningRows)"])
        metric("glm_batch_occupancy", "gauge", "Running rows / --max-batch.",
               ["glm_batch_occupancy \(Double(runningRows) / Double(max(1, maxBatch)))"])
        metric("glm_decode_steps_total", "counter", "Decode steps run.", ["glm_decode_steps_total \(steps)"])
        metric("glm_decode_step_rows_total", "counter", "Sum of rows over decode steps (mean batch = this / steps).",
               ["glm_decode_step_rows_total \(stepRows)"])
        metric("glm_completion_tokens_total", "counter", "Tokens generated.", ["glm_completion_tokens_total \(tokens)"])
        metric("glm_tokens_per_second", "gauge", "Tokens generated per second over the last 10 s.",
               ["glm_tokens_per_second \(tokensPerSecond(now: Date()))"])
        var hist = Self.latencyBuckets.enumerated().map { "glm_request_duration_seconds_bucket{le=\"\($0.element)\"} \(latencyCounts[$0.offset])" }
        hist.append("glm_request_duration_seconds_bucket{le=\"+Inf\"} \(latencyCount)")
        hist.append("glm_request_duration_seconds_sum \(latencySum)")
        hist.append("glm_request_duration_seconds_count \(latencyCount)")
        metric("glm_request_duration_seconds", "histogram", "Request latency.", hist)
        return out
    }
}
