#include "moegrad/autograd/gradcheck.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "moegrad/autograd/ops/elementwise.h"
#include "moegrad/autograd/ops/reduction.h"
#include "moegrad/autograd/tensor_grad.h"
#include "moegrad/core/core.h"

namespace moegrad {

std::ostream& operator<<(std::ostream& os, const GradcheckReport& r) {
  os << (r.ok ? "gradcheck passed" : "gradcheck FAILED") << " (" << r.checked
     << " Jacobian entries, max |analytic - numeric| = " << r.max_abs_error << ")";
  if (!r.worst.empty()) os << "; worst: " << r.worst;
  return os;
}

namespace {

// Element offsets (into storage) of every element of t, row-major.
std::vector<int64_t> element_offsets(const Tensor& t) {
  std::vector<int64_t> out;
  std::vector<int64_t> idx(t.dim(), 0);
  for (int64_t n = 0; n < t.numel(); ++n) {
    int64_t off = t.offset();
    for (int64_t d = 0; d < t.dim(); ++d) off += idx[d] * t.strides()[d];
    out.push_back(off);
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
      if (++idx[d] < t.shape()[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

// Float outputs flattened and concatenated, as host doubles.
std::vector<double> flat_outputs(const TensorList& ys) {
  std::vector<double> out;
  for (const Tensor& y : ys) {
    if (!is_floating(y.dtype())) continue;
    std::vector<double> v = y.to_vector<double>();
    out.insert(out.end(), v.begin(), v.end());
  }
  return out;
}

std::string index_string(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % std::max<int64_t>(shape[d], 1);
    flat /= std::max<int64_t>(shape[d], 1);
  }
  return str_cat(idx);
}

}  // namespace

GradcheckReport gradcheck_multi(const GradcheckMultiFn& fn, const TensorList& inputs,
                                const GradcheckOptions& opt) {
  std::vector<size_t> checked_inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !requires_grad(x)) continue;
    MOEGRAD_CHECK(x.dtype() == DType::f64, "gradcheck: input ", i, " is ", x.dtype(),
                  "; finite differences need float64");
    for (int64_t d = 0; d < x.dim(); ++d)
      MOEGRAD_CHECK(x.strides()[d] != 0 || x.shape()[d] <= 1, "gradcheck: input ", i,
                    " of shape ", x.shape(), " overlaps itself in memory (stride 0 on dim ", d, ")");
    checked_inputs.push_back(i);
  }
  MOEGRAD_CHECK(!checked_inputs.empty(), "gradcheck: no input requires grad");

  // Numeric Jacobian, one input element at a time: numeric[i][e][o].
  std::vector<std::vector<std::vector<double>>> numeric(inputs.size());
  size_t n_out = 0;
  {
    NoGradGuard no_grad;
    n_out = flat_outputs(fn(inputs)).size();
    for (size_t i : checked_inputs) {
      for (int64_t off : element_offsets(inputs[i])) {
        Tensor element = core::as_strided(inputs[i], {}, {}, off);
        const double v = element.item<double>();
        core::fill_(element, v + opt.eps);
        std::vector<double> plus = flat_outputs(fn(inputs));
        core::fill_(element, v - opt.eps);
        std::vector<double> minus = flat_outputs(fn(inputs));
        core::fill_(element, v);
        std::vector<double> col(n_out);
        for (size_t o = 0; o < n_out; ++o) col[o] = (plus[o] - minus[o]) / (2 * opt.eps);
        numeric[i].push_back(std::move(col));
      }
    }
  }

  // Analytic Jacobian, one output element at a time, by backward with a one-hot cotangent.
  GradcheckReport report;
  double worst_excess = -std::numeric_limits<double>::infinity(), largest_error = -1;
  std::string worst_past_tolerance, largest_error_at;
  for (size_t o = 0; o < n_out; ++o) {
    for (size_t i : checked_inputs) zero_grad(inputs[i]);
    TensorList ys = fn(inputs);
    Tensor loss;
    size_t at = 0;
    for (const Tensor& y : ys) {
      if (!is_floating(y.dtype())) continue;
      const size_t n = static_cast<size_t>(y.numel());
      if (o >= at && o < at + n && requires_grad(y)) {
        std::vector<double> onehot(n, 0.0);
        onehot[o - at] = 1.0;
        loss = sum(y * from_vector(onehot, y.shape(), y.dtype(), y.backend()));
      }
      at += n;
    }
    if (loss.defined()) backward(loss);
    for (size_t i : checked_inputs) {
      std::vector<double> analytic;
      if (Tensor g = grad(inputs[i]); g.defined()) analytic = g.to_vector<double>();
      analytic.resize(inputs[i].numel(), 0.0);  // no gradient means zeros
      for (size_t e = 0; e < analytic.size(); ++e) {
        const double a = analytic[e], n = numeric[i][e][o];
        const double err = std::abs(a - n);
        double excess = err - (opt.atol + opt.rtol * std::abs(n));
        if (std::isnan(excess)) excess = std::numeric_limits<double>::infinity();
        ++report.checked;
        if (excess > 0) report.ok = false;
        if (!std::isnan(err)) report.max_abs_error = std::max(report.max_abs_error, err);
        // A failing check shows the element furthest past its tolerance; a passing one the
        // element with the largest error, so that "worst" agrees with max_abs_error.
        auto describe = [&] {
          return str_cat("input ", i, " element ", index_string(e, inputs[i].shape()), ", output element ", o,
                         ": analytic ", a, ", numeric ", n);
        };
        if (excess > worst_excess) {
          worst_excess = excess;
          worst_past_tolerance = describe();
        }
        if (!std::isnan(err) && err > largest_error) {
          largest_error = err;
          largest_error_at = describe();
        }
      }
    }
  }
  for (size_t i : checked_inputs) zero_grad(inputs[i]);
  report.worst = report.ok ? largest_error_at : worst_past_tolerance;
  return report;
}

GradcheckReport gradcheck(const GradcheckFn& fn, const TensorList& inputs,
                          const GradcheckOptions& opt) {
  return gradcheck_multi([&](const TensorList& in) { return TensorList{fn(in)}; }, inputs, opt);
}

}  // namespace moegrad
