#include "moegrad/train/interrupt.h"

#include <signal.h>
#include <unistd.h>

namespace moegrad::train {

namespace {
volatile sig_atomic_t g_signal = 0;
struct sigaction g_old_int, g_old_term;

void write_stderr(const char* text, size_t size) {
  // Only async-signal-safe calls here; a failed write has nowhere to be reported.
  while (size > 0) {
    const ssize_t w = ::write(STDERR_FILENO, text, size);
    if (w <= 0) return;
    text += w;
    size -= static_cast<size_t>(w);
  }
}

void on_signal(int sig) {
  if (g_signal != 0) {
    static const char again[] = "\nmoegrad: interrupted again: exiting at once, without saving\n";
    write_stderr(again, sizeof(again) - 1);
    ::_exit(128 + sig);
  }
  g_signal = sig;
  static const char first[] =
      "\nmoegrad: interrupted: finishing this step and saving a checkpoint (interrupt again to exit at once)\n";
  write_stderr(first, sizeof(first) - 1);
}
}  // namespace

InterruptGuard::InterruptGuard() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // file writes in progress carry on instead of failing with EINTR
  ::sigaction(SIGINT, &sa, &g_old_int);
  ::sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptGuard::~InterruptGuard() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
}

int InterruptGuard::signal() const { return g_signal; }

std::string signal_name(int signal) {
  if (signal == SIGINT) return "SIGINT";
  if (signal == SIGTERM) return "SIGTERM";
  return "signal " + std::to_string(signal);
}

}  // namespace moegrad::train
