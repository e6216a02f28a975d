#pragma once
// Anomaly detection, as torch.autograd.detect_anomaly: while a DetectAnomalyGuard lives
// (on this thread), every op checks its results, and the first forward or backward that
// turns finite inputs into a NaN or Inf stops with an AnomalyError naming the op. It costs
// one pass over every result, so it is for debugging, off by default.
#include <string>

#include "moegrad/core/error.h"
#include "moegrad/core/tensor.h"

namespace moegrad {

class AnomalyError : public Error {
 public:
  using Error::Error;
};

class AnomalyMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

class DetectAnomalyGuard {
 public:
  DetectAnomalyGuard() : prev_(AnomalyMode::is_enabled()) { AnomalyMode::set_enabled(true); }
  ~DetectAnomalyGuard() { AnomalyMode::set_enabled(prev_); }
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;

 private:
  bool prev_;
};

// "NaN", "Inf" or "" for a float tensor (integer and bool tensors are always "").
std::string non_finite_kind(const Tensor& t);

// Throws AnomalyError when one of `results` holds a NaN or Inf that `inputs` did not.
// `what` reads "the forward of TanhOp" or "the backward of MatmulOp"; `result_name` is
// "output" or "gradient of input".
void check_anomaly(const std::string& what, const TensorList& inputs, const TensorList& results,
                   const char* result_name);

}  // namespace moegrad
