#include "moegrad/moe/coor_descent.h"

#include <algorithm>
#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::moe {

void CoorDescentOptions::validate() const {
  if (n_iters < 1) throw ConfigError("n_iters", str_cat("must be >= 1, got ", n_iters));
  if (!(eps > 0)) throw ConfigError("eps", str_cat("must be positive, got ", eps));
  if (eps_init && !(*eps_init > 0)) throw ConfigError("eps_init", str_cat("must be positive, got ", *eps_init));
  if (!(eps_decay > 0)) throw ConfigError("eps_decay", str_cat("must be positive, got ", eps_decay));
}

void CoorDescentTopkOptions::validate() const {
  if (k < 1) throw ConfigError("k", str_cat("must be >= 1, got ", k));
  if (!(coor_descent_k_ratio >= 1.0))
    throw ConfigError("coor_descent_k_ratio", str_cat("must be >= 1, got ", coor_descent_k_ratio));
  descent.validate();
}

Tensor coor_descent(const Tensor& s, double k, const CoorDescentOptions& opt) {
  opt.validate();
  MOEGRAD_CHECK(k > 0, "coor_descent: k must be positive, got ", k);
  const double log_k = std::log(k);
  Tensor a = zeros_like(s);
  Tensor b = -s;
  double eps_t = std::max(opt.eps_init.value_or(opt.eps), opt.eps);
  for (int64_t i = 0; i < opt.n_iters; ++i) {
    a = eps_t * (log_k - logsumexp((s + b) / eps_t, {-1}, /*keepdim=*/true));
    b = -relu(s + a);
    eps_t = std::max(eps_t * opt.eps_decay, opt.eps);
  }
  return exp((s + a + b) / eps_t);
}

CoorDescentTopkResult coor_descent_topk(const Tensor& x, const CoorDescentTopkOptions& opt) {
  opt.validate();
  MOEGRAD_CHECK(x.dim() >= 1 && opt.k <= x.size(-1), "coor_descent_topk: k = ", opt.k,
                " exceeds the last dim of shape ", x.shape());
  CoorDescentTopkResult r;
  if (opt.non_differentiable) {
    std::tie(r.values, r.indices) = topk(x, opt.k, -1);
    return r;
  }
  const double k_descent =
      std::min(static_cast<double>(x.size(-1)), static_cast<double>(opt.k) * opt.coor_descent_k_ratio);
  Tensor scores = coor_descent(x, k_descent, opt.descent);
  Tensor gates = scores + detach(1.0 - scores);
  std::tie(r.values, r.indices) = topk(x * gates, opt.k, -1);
  r.coor_descent_values = gather(scores, -1, r.indices, IndexCheck::trusted);
  r.gates = gather(gates, -1, r.indices, IndexCheck::trusted);
  return r;
}

}  // namespace moegrad::moe
