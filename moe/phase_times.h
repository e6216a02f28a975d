#pragma once
// Optional wall-clock accounting of an MoE forward, for `moegrad bench`: passed explicitly,
// null everywhere else (then nothing is measured).
#include <chrono>

namespace moegrad::moe {

struct PhaseTimes {
  double gating = 0;    // seconds
  double dispatch = 0;
  double experts = 0;
  double combine = 0;
  double dense_ff = 0;  // the SparseMoEBlock's feedforwards
};

// Adds the lifetime of the scope to *slot (when slot is not null).
class PhaseClock {
 public:
  explicit PhaseClock(double* slot) : slot_(slot) {
    if (slot_) start_ = std::chrono::steady_clock::now();
  }
  ~PhaseClock() {
    if (slot_) *slot_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  PhaseClock(const PhaseClock&) = delete;
  PhaseClock& operator=(const PhaseClock&) = delete;

 private:
  double* slot_;
  std::chrono::steady_clock::time_point start_;
};

inline double* slot(PhaseTimes* t, double PhaseTimes::*member) { return t ? &(t->*member) : nullptr; }

}  // namespace moegrad::moe
