// Graceful stop on SIGINT / SIGTERM: the trainer finishes the step it is in, saves, and exits 0.
import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a flag the training loop polls between steps.
///
/// WHY DispatchSource: a plain C signal handler may only touch async-signal-safe state; a dispatch
/// source receives the signal as an ordinary event on a queue, where taking a lock is fine. The default
/// disposition is set to "ignore" so the process is not killed before the source sees the signal.
/// A SECOND signal exits at once (status 128 + signal): the last good checkpoint is intact anyway.
public final class StopSignal: @unchecked Sendable {
    // @unchecked Sendable: `requested` is guarded by `lock`; the sources are only touched in init/deinit.
    private let lock = NSLock()
    private var requested: Int32 = 0
    private var sources: [DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "swiftglm.stop-signal")

    /// Installs handlers for `signals` (SIGINT and SIGTERM by default). `onFirst` runs on the handler
    /// queue when the first signal arrives (e.g. to print "stopping after this step").
    public init(signals: [Int32] = [SIGINT, SIGTERM], onFirst: (@Sendable (Int32) -> Void)? = nil) {
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
            source.setEventHandler { [weak self] in
                guard let self else { return }
                let first = self.lock.withLock { () -> Bool in
                    if self.requested != 0 { return false }
                    self.requested = sig
                    return true
                }
                if first { onFirst?(sig) } else { _exit(128 + sig) }
            }
            source.resume()
            sources.append(source)
        }
    }

    deinit {
        for s in sources { s.cancel() }
    }

    /// The signal that asked to stop, or nil.
    public var receivedSignal: Int32? { lock.withLock { requested == 0 ? nil : requested } }
    public var isRequested: Bool { receivedSignal != nil }

    /// Asks to stop as a signal would (tests, or a caller's own stop condition).
    public func request(_ sig: Int32 = SIGTERM) { lock.withLock { if requested == 0 { requested = sig } } }
}
