#pragma once
// Compares analytic gradients with central finite differences, in float64, over the full
// Jacobian, in the spirit of torch.autograd.gradcheck: every input that requires grad,
// every element of every output.
#include <functional>
#include <ostream>
#include <string>

#include "moegrad/core/tensor.h"

namespace moegrad {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
};

struct GradcheckReport {
  bool ok = true;
  int64_t checked = 0;  // Jacobian entries compared
  double max_abs_error = 0;
  // Where the worst entry is: input, its element, output element, both values.
  std::string worst;
};

std::ostream& operator<<(std::ostream& os, const GradcheckReport& r);

using GradcheckFn = std::function<Tensor(const TensorList&)>;
using GradcheckMultiFn = std::function<TensorList(const TensorList&)>;

// Inputs must be float64 leaves; those that require grad are checked. An input must
// not overlap itself in memory (a stride-0 expand), since its elements are perturbed
// one at a time; non-contiguous views are fine.
GradcheckReport gradcheck(const GradcheckFn& fn, const TensorList& inputs,
                          const GradcheckOptions& opt = {});
// For ops with several outputs: every float output enters the Jacobian.
GradcheckReport gradcheck_multi(const GradcheckMultiFn& fn, const TensorList& inputs,
                                const GradcheckOptions& opt = {});

}  // namespace moegrad
