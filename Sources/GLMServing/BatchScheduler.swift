import Foundation
import GLMGeneration

/// One sequence to decode: a prepared prompt with its own options.
public struct RowRequest: Sendable {
    public var prepared: PreparedPrompt
    public var options: GenerationOptions
    public var logprobs: Int?

    public init(prepared: PreparedPrompt, options: GenerationOptions, logprobs: Int? = nil) {
        self.prepared = prepared; self.options = options; self.logprobs = logprobs
    }
}

/// What a submitted job's stream yields: (row index within the job, event).
public typealias JobEvent = (row: Int, event: BatchRowEvent)

/// The serving loop: one worker thread owns the model and a `ContinuousBatchDecoder`; requests queue
/// rows, and before every decode step the worker drops cancelled or expired rows, admits queued rows up to
/// `maxBatch` (each runs its prompt pass and joins), runs any other model work (choice scoring), and steps.
/// So requests join and leave the running batch at every step, and nothing else touches the model.
///
/// The queue is bounded: `submit` throws `APIError.queueFull` (429) beyond `maxQueue` waiting rows.
public final class BatchScheduler: @unchecked Sendable {
    public let generator: GLMGenerator
    public let maxBatch: Int
    public let maxQueue: Int
    public let metrics: ServingMetrics

    private struct RowKey: Hashable { let job: Int; let row: Int }

    /// A job's shared state, touched by the worker only (except `continuation`, which is thread-safe).
    private final class Job {
        let id: Int
        let continuation: AsyncStream<JobEvent>.Continuation
        let deadline: Date
        var remaining: Int
        init(id: Int, continuation: AsyncStream<JobEvent>.Continuation, deadline: Date, rows: Int) {
            self.id = id; self.continuation = continuation; self.deadline = deadline; remaining = rows
        }
        func rowDone() {
            remaining -= 1
            if remaining == 0 { continuation.finish() }
        }
    }

    private struct Pending {
        let job: Job
        let row: Int
        let request: RowRequest
    }

    private let condition = NSCondition()
    private var pending: [Pending] = []
    private var cancelled: Set<RowKey> = []
    private var cancelledJobs: Set<Int> = []
    private var work: [() -> Void] = []
    private var stopping = false
    private var nextJob = 0
    private var running = 0
    private var thread: Thread?
    /// decoder row id → (job, row index); worker only.
    private var rowsByDecoderID: [Int: (job: Job, row: Int)] = [:]

    public init(generator: GLMGenerator, maxBatch: Int, maxQueue: Int, metrics: ServingMetrics = ServingMetrics()) {
        self.generator = generator
        self.maxBatch = max(1, maxBatch)
        self.maxQueue = max(0, maxQueue)
        self.metrics = metrics
    }

    /// Starts the worker thread.
    public func start() {
        let t = Thread { [self] in workerLoop() }
        t.stackSize = 16 << 20
        t.name = "glm-serve-decoder"
        thread = t
        t.start()
    }

    /// Rows waiting and running now.
    public var load: (queued: Int, running: Int) {
        condition.lock(); defer { condition.unlock() }
        return (pending.count, running)
    }

    /// Queues a job's rows; its events arrive on the returned stream, which ends when every row finished,
    /// failed or was cancelled. Throws `queueFull` when the queue cannot take them all.
    public func submit(_ rows: [RowRequest], deadline: TimeInterval) throws -> (id: Int, events: AsyncStream<JobEvent>) {
        let (stream, continuation) = AsyncStream<JobEvent>.makeStream()
        condition.lock(); defer { condition.unlock() }
        guard !stopping else { throw APIError.shuttingDown }
        guard rows.count <= max(maxQueue, maxBatch) else {
            throw APIError.invalid("the request needs \(rows.count) sequences (prompts × n) but this server holds at most \(max(maxQueue, maxBatch))", param: "n")
        }
        guard pending.count + rows.count <= maxQueue || (pending.isEmpty && rows.count <= maxBatch) else {
            throw APIError.queueFull(depth: pending.count)
        }
        let job = Job(id: nextJob, continuation: continuation, deadline: Date().addingTimeInterval(deadline), rows: rows.count)
        nextJob += 1
        if rows.isEmpty { continuation.finish() }
        for (i, r) in rows.enumerated() { pending.append(Pending(job: job, row: i, request: r)) }
        metrics.setQueue(pending.count)
        condition.signal()
        return (job.id, stream)
    }

    /// Stops one row of a job (a stop sequence was reached) or, with row nil, the whole job (the client
    /// went away). Its rows leave the batch before the next step.
    public func cancel(job: Int, row: Int? = nil) {
        condition.lock()
        if let row { cancelled.insert(RowKey(job: job, row: row)) } else { cancelledJobs.insert(job) }
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the worker between two decode steps (model work that must not overlap decoding).
    public func perform<T: Sendable>(_ body: @escaping @Sendable (GLMGenerator) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, Error>) in
            condition.lock()
            if stopping { condition.unlock(); c.resume(throwing: APIError.shuttingDown); return }
            work.append { [generator] in c.resume(with: Result { try body(generator) }) }
            condition.signal()
            condition.unlock()
        }
    }

    /// Refuses new jobs, lets the running and queued ones finish, then ends the worker.
    public func drain() async {
        markStopping()
        while let t = thread, !t.isFinished { try? await Task.sleep(nanoseconds: 20_000_000) }
    }

    private func markStopping() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    // MARK: - the worker

    private func workerLoop() {
        let decoder = ContinuousBatchDecoder(generator: generator)
        while true {
            condition.lock()
            while pending.isEmpty && decoder.count == 0 && work.isEmpty && cancelled.isEmpty && cancelledJobs.isEmpty && !stopping {
                condition.wait()
            }
            if stopping && pending.isEmpty && decoder.count == 0 && work.isEmpty {
                condition.unlock()
                return
            }
            let jobs = work; work = []
            let rowsGone = cancelled, jobsGone = cancelledJobs
            cancelled = []; cancelledJobs = []
            // Cancelled rows still waiting never start.
            var admitted: [Pending] = []
            var dropped: [Pending] = []
            let now = Date()
            var expired: [Pending] = []
            pending.removeAll { p in
                let gone = jobsGone.contains(p.job.id) || rowsGone.contains(RowKey(job: p.job.id, row: p.row))
                if gone { dropped.append(p) } else if now > p.job.deadline { expired.append(p) }
                return gone || now > p.job.deadline
            }
            let room = max(0, maxBatch - decoder.count)
            admitted = Array(pending.prefix(room))
            pending.removeFirst(admitted.count)
            metrics.setQueue(pending.count)
            condition.unlock()

            for j in jobs { j() }
            for p in dropped { p.job.rowDone() }
            for p in expired { p.job.continuation.yield((p.row, .failed("deadline"))); p.job.rowDone() }
            // Cancelled or expired running rows leave now (their caches are freed with them).
            var leaving: Set<Int> = []
            for (id, entry) in rowsByDecoderID {
                if jobsGone.contains(entry.job.id) || rowsGone.contains(RowKey(job: entry.job.id, row: entry.row)) {
                    leaving.insert(id)
                } else if now > entry.job.deadline {
                    entry.job.continuation.yield((entry.row, .failed("deadline")))
                    leaving.insert(id)
                }
            }
            if !leaving.isEmpty {
                decoder.remove(ids: leaving)
                for id in leaving { rowsByDecoderID.removeValue(forKey: id)?.job.rowDone() }
            }
            for p in admitted { admit(p, into: decoder) }
            setRunning(decoder.count)
            guard decoder.count > 0 else { continue }
            let started = Date()
            let rows = decoder.count
            do { try decoder.step() } catch {
                // Every row already got `.failed`; the rows are gone.
                for (_, entry) in rowsByDecoderID { entry.job.rowDone() }
                rowsByDecoderID = [:]
            }
            metrics.recordStep(rows: rows, seconds: Date().timeIntervalSince(started))
            setRunning(decoder.count)
        }
    }

    private func admit(_ p: Pending, into decoder: ContinuousBatchDecoder) {
        let job = p.job, row = p.row
        var decoderID: Int? = nil
        let onEvent: (BatchRowEvent) -> Void = { [weak self] event in
            job.continuation.yield((row, event))
            switch event {
            case .token: self?.metrics.addTokens(1)
            case .finished, .failed:
                if let id = decoderID { self?.rowsByDecoderID.removeValue(forKey: id) }
                job.rowDone()
            case .blankFinished: break
            }
        }
        do {
            decoderID = try decoder.add(p.request.prepared, options: p.request.options, logprobs: p.request.logprobs, onEvent: onEvent)
            if let id = decoderID { rowsByDecoderID[id] = (job, row) }
        } catch {
            job.continuation.yield((row, .failed("\(error)")))
            job.rowDone()
        }
    }

    private func setRunning(_ n: Int) {
        condition.lock(); running = n; condition.unlock()
        metrics.setRunning(n)
    }
}
