// glm_signal.c — stop-request flags set by a plain async-signal-safe handler (graceful stop on SIGINT/SIGTERM).
//
// WHY not a DispatchSource: on Linux libdispatch reads signals through signalfd, which only sees a
// signal that is blocked in the thread the kernel picks. A process-directed signal (Ctrl-C, `kill PID`)
// may be delivered to any thread — an OpenMP worker, a test-runner thread — that does not block it,
// and with the disposition set to "ignore" it is then silently dropped. A real handler runs in whichever
// thread receives it, so no signal is ever lost.
#include "glm_system.h"
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define GLM_MAX_SIGNAL 65

static volatile sig_atomic_t g_stop_flags[GLM_MAX_SIGNAL];
static volatile sig_atomic_t g_any_stop = 0;

static void stop_handler(int sig) {
    // A second stop signal exits at once (128 + signal, the shell convention); the last checkpoint is
    // complete on disk because every write of one is atomic.
    if (g_any_stop) _exit(128 + sig);
    g_any_stop = 1;
    if (sig > 0 && sig < GLM_MAX_SIGNAL) g_stop_flags[sig] = 1;
}

int glm_stop_signal_install(int sig) {
    if (sig <= 0 || sig >= GLM_MAX_SIGNAL) return -1;
    g_stop_flags[sig] = 0;
    g_any_stop = 0;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(sig, &sa, NULL);
}

int glm_stop_signal_received(int sig) {
    if (sig <= 0 || sig >= GLM_MAX_SIGNAL) return 0;
    return g_stop_flags[sig] != 0;
}

int glm_stop_signal_restore(int sig) {
    if (sig <= 0 || sig >= GLM_MAX_SIGNAL) return -1;
    g_stop_flags[sig] = 0;
    return signal(sig, SIG_DFL) == SIG_ERR ? -1 : 0;
}
