#pragma once
// Ctrl-C (SIGINT) and SIGTERM during training. The first one asks the run to stop once the
// step in progress is done, so that it can save a checkpoint; a second one ends the process
// at once (exit 128 + signal), for a user who does not want to wait.
#include <string>

#include "moegrad/core/error.h"

namespace moegrad::train {

// The run stopped on a signal; what() says where its checkpoint is and how to resume.
class Interrupted : public Error {
 public:
  Interrupted(int signal, const std::string& message) : Error(message), signal_(signal) {}
  int signal() const { return signal_; }
  int exit_code() const { return 128 + signal_; }  // 130 for SIGINT, 143 for SIGTERM

 private:
  int signal_;
};

// Installs the SIGINT and SIGTERM handlers for its lifetime (one guard at a time) and puts
// back the earlier ones after.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  // 0, or the first signal received since the guard was made.
  int signal() const;
};

// "SIGINT", "SIGTERM", or "signal N".
std::string signal_name(int signal);

}  // namespace moegrad::train
