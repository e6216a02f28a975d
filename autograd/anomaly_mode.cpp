#include "moegrad/autograd/anomaly_mode.h"

#include <cmath>

#include "moegrad/core/core.h"

namespace moegrad {

namespace {
thread_local bool anomaly_enabled = false;
}

bool AnomalyMode::is_enabled() { return anomaly_enabled; }
void AnomalyMode::set_enabled(bool enabled) { anomaly_enabled = enabled; }

std::string non_finite_kind(const Tensor& t) {
  if (!t.defined() || !is_floating(t.dtype()) || t.numel() == 0) return "";
  // max |x| is NaN if any element is, and Inf if any is infinite.
  const double m = core::amax(core::unary(UnaryOp::abs, t)).item<double>();
  if (std::isnan(m)) return "NaN";
  if (std::isinf(m)) return "Inf";
  return "";
}

void check_anomaly(const std::string& what, const TensorList& inputs, const TensorList& results,
                   const char* result_name) {
  for (size_t i = 0; i < results.size(); ++i) {
    const std::string bad = non_finite_kind(results[i]);
    if (bad.empty()) continue;
    std::string already;
    for (const Tensor& in : inputs)
      if (already.empty()) already = non_finite_kind(in);
    // The op that first produced a NaN is the one to name; one that merely passed it on
    // gets its own, weaker message.
    throw AnomalyError(str_cat("anomaly: ", what, " produced ", bad, " in its ", result_name, " ", i, " of shape ",
                               results[i].shape(),
                               already.empty() ? " from finite inputs"
                                               : str_cat(" (its inputs already held ", already, ")")));
  }
}

}  // namespace moegrad
