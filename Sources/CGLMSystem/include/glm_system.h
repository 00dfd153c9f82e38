// glm_system.h — process-level C helpers that Swift cannot write safely (kept apart from the SIMD kernels).
#ifndef GLM_SYSTEM_H
#define GLM_SYSTEM_H

// ---- graceful stop (signals) ---------------------------------------------------------------------
/// Installs an async-signal-safe handler for `sig` (1..64) that records a stop request; while one is
/// recorded, any further handled signal exits the process at once with 128 + sig. Clears `sig`'s flag.
int glm_stop_signal_install(int sig);
/// 1 once `sig` has arrived since it was installed, else 0.
int glm_stop_signal_received(int sig);
/// Puts `sig` back to its default disposition and clears its flag.
int glm_stop_signal_restore(int sig);

#endif
