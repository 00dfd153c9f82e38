// Graceful stop on SIGINT / SIGTERM: the trainer finishes the step it is in, saves, and exits 0.
import CGLMSystem
import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a flag the training loop polls between steps.
///
/// WHY a C handler (glm_signal.c) and not a DispatchSource: libdispatch on Linux sees a signal only
/// when it is blocked in the thread the kernel delivers it to, and a process-directed signal may land
/// in any thread (OpenMP workers included) — it was then silently dropped. The handler only sets a
/// `sig_atomic_t`; a 50 ms poll on a private queue turns the first request into the `onFirst` call.
/// A SECOND signal exits at once (status 128 + signal): the last good checkpoint is intact anyway.
public final class StopSignal: @unchecked Sendable {
    // @unchecked Sendable: `requested`/`announced` are guarded by `lock`; `poll` is set once in init.
    private let lock = NSLock()
    private var requested: Int32 = 0
    private var announced = false
    private let signals: [Int32]
    private var poll: DispatchSourceTimer?
    private let onFirst: (@Sendable (Int32) -> Void)?

    /// Installs handlers for `signals` (SIGINT and SIGTERM by default). `onFirst` runs on a private
    /// queue shortly after the first signal arrives (e.g. to print "stopping after this step").
    public init(signals: [Int32] = [SIGINT, SIGTERM], onFirst: (@Sendable (Int32) -> Void)? = nil) {
        self.signals = signals
        self.onFirst = onFirst
        for sig in signals { _ = glm_stop_signal_install(sig) }
        guard !signals.isEmpty, onFirst != nil else { return }
        let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "swiftglm.stop-signal"))
        timer.schedule(deadline: .now(), repeating: .milliseconds(50))
        timer.setEventHandler { [weak self] in
            guard let self, let sig = self.receivedSignal else { return }
            self.announce(sig)
        }
        timer.resume()
        poll = timer
    }

    /// Runs `onFirst` once, from the poll or from the first `isRequested` that sees the request —
    /// whichever comes first: a tiny run can finish its step, save and exit within the poll's 50 ms, and
    /// its "stopping" line must not be lost.
    private func announce(_ sig: Int32) {
        let first = lock.withLock { () -> Bool in
            defer { announced = true }
            return !announced
        }
        if first { onFirst?(sig) }
    }

    deinit {
        poll?.cancel()
        for sig in signals { _ = glm_stop_signal_restore(sig) }
    }

    /// The signal that asked to stop, or nil.
    public var receivedSignal: Int32? {
        lock.withLock {
            if requested == 0, let sig = signals.first(where: { glm_stop_signal_received($0) != 0 }) { requested = sig }
            return requested == 0 ? nil : requested
        }
    }
    public var isRequested: Bool {
        guard let sig = receivedSignal else { return false }
        announce(sig)
        return true
    }

    /// Asks to stop as a signal would (tests, or a caller's own stop condition).
    public func request(_ sig: Int32 = SIGTERM) { lock.withLock { if requested == 0 { requested = sig } } }
}
