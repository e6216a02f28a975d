#include "moegrad/nn/loss.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

namespace {
Tensor reduce(const Tensor& per_element, Reduction r) {
  switch (r) {
    case Reduction::mean: return mean(per_element);
    case Reduction::sum: return sum(per_element);
    case Reduction::none: return per_element;
  }
  return per_element;
}
}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
  MOEGRAD_CHECK(input.shape() == target.shape(), "mse_loss: input shape ", input.shape(),
                " differs from target shape ", target.shape());
  Tensor d = input - target;
  return reduce(d * d, reduction);
}

Tensor cross_entropy(const Tensor& logits, const Tensor& target, int64_t ignore_index,
                     Reduction reduction) {
  MOEGRAD_CHECK(target.dtype() == DType::i64, "cross_entropy: target must be int64 class indices, got ",
                target.dtype());
  Shape expected(logits.shape().begin(), logits.shape().end() - (logits.dim() > 0 ? 1 : 0));
  MOEGRAD_CHECK(logits.dim() >= 1 && target.shape() == expected, "cross_entropy: logits ",
                logits.shape(), " need targets of shape ", expected, ", got ", target.shape());
  const int64_t classes = logits.size(-1);
  Tensor ignore = core::scalar_like(static_cast<double>(ignore_index), target);
  Tensor keep = ne(target, ignore);
  Tensor safe_target = core::where(keep, target, core::scalar_like(0.0, target));
  if (safe_target.numel() > 0) {
    const int64_t lo = core::amin(safe_target).item<int64_t>();
    const int64_t hi = core::amax(safe_target).item<int64_t>();
    MOEGRAD_CHECK(lo >= 0 && hi < classes, "cross_entropy: target ", lo < 0 ? lo : hi,
                  " is outside [0, ", classes, ") and is not ignore_index=", ignore_index);
  }
  Tensor picked = squeeze(gather(log_softmax(logits, -1), -1, core::unsqueeze(safe_target, -1)), -1);
  Tensor weight = core::to(keep, logits.dtype());
  Tensor nll = -(picked * weight);
  switch (reduction) {
    case Reduction::mean: return sum(nll) / core::sum(weight);
    case Reduction::sum: return sum(nll);
    case Reduction::none: return nll;
  }
  return nll;
}

}  // namespace moegrad::nn
