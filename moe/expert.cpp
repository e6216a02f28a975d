#include "moegrad/moe/expert.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/checked_math.h"
#include "moegrad/nn/geglu.h"
#include "moegrad/nn/init.h"
#include "moegrad/nn/linear.h"
#include "moegrad/nn/normalization.h"

namespace moegrad::moe {

void ExpertOptions::validate() const {
  if (dim < 1) throw ConfigError("dim", str_cat("must be >= 1, got ", dim));
  if (!(hidden_mult > 0) || !std::isfinite(hidden_mult))
    throw ConfigError("hidden_mult", str_cat("must be finite and positive, got ", hidden_mult));
  if (hidden() < 1)
    throw ConfigError("hidden_mult", str_cat("gives a hidden width int(dim * hidden_mult * 2 / 3) = ",
                                             hidden(), " < 1"));
}

int64_t ExpertOptions::hidden() const {
  return checked_floor_to_int64(static_cast<double>(dim) * hidden_mult * 2.0 / 3.0, "expert hidden width");
}

namespace {
std::shared_ptr<nn::Linear> expert_linear(int64_t in, int64_t out, Generator& gen, DType dtype) {
  auto l = std::make_shared<nn::Linear>(in, out, /*bias=*/true, gen, dtype);
  const double bound = 1.0 / std::sqrt(static_cast<double>(out));
  nn::init::uniform_(l->weight, -bound, bound, gen);
  nn::init::uniform_(l->bias, -bound, bound, gen);
  return l;
}
}  // namespace

Expert::Expert(const ExpertOptions& opt, Generator& gen, DType dtype) : options(opt) {
  opt.validate();
  const int64_t h = opt.hidden();
  net = register_module("net", std::make_shared<nn::Sequential>());
  if (opt.prenorm) net->push_back(std::make_shared<nn::RMSNorm>(opt.dim, dtype));
  net->push_back(expert_linear(opt.dim, checked_mul(2, h, "expert hidden width x 2"), gen, dtype));
  net->push_back(std::make_shared<nn::GEGLU>(h, opt.mult_bias, dtype));
  net->push_back(expert_linear(h, opt.dim, gen, dtype));
}

Experts::Experts(int64_t num_experts, const ExpertOptions& opt, Generator& gen, DType dtype) {
  if (num_experts < 1) throw ConfigError("num_experts", str_cat("must be >= 1, got ", num_experts));
  experts = register_module("experts", std::make_shared<nn::ModuleList<Expert>>());
  for (int64_t i = 0; i < num_experts; ++i) experts->push_back(std::make_shared<Expert>(opt, gen, dtype));
}

Tensor Experts::forward(const Tensor& x) {
  MOEGRAD_CHECK(x.dim() >= 2 && x.size(0) == static_cast<int64_t>(size()), "Experts: input of shape ",
                x.shape(), " must start with num_experts = ", size());
  TensorList outs;
  for (size_t i = 0; i < size(); ++i) outs.push_back((*this)[i].forward(squeeze(narrow(x, 0, i, 1), 0)));
  return stack(outs, 0);
}

}  // namespace moegrad::moe
