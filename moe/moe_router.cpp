#include "moegrad/moe/moe_router.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/nn/activation.h"
#include "moegrad/nn/linear.h"

namespace moegrad::moe {

void MoERouterOptions::validate() const {
  check_field_ranges(fields(), *this);
  if (auto* widths = std::get_if<std::vector<int64_t>>(&hidden_layers)) {
    for (size_t i = 0; i < widths->size(); ++i)
      if ((*widths)[i] < 1)
        throw ConfigError(str_cat("hidden_layers[", i, "]"), str_cat("must be >= 1, got ", (*widths)[i]));
  }
  if (auto* count = std::get_if<int64_t>(&hidden_layers); count && *count < 0)
    throw ConfigError("hidden_layers", str_cat("must be >= 0, got ", *count));
}

MoERouter::MoERouter(const MoERouterOptions& opt, Generator& gen, DType dtype) : options(opt) {
  opt.validate();
  std::vector<int64_t> widths;
  if (auto* w = std::get_if<std::vector<int64_t>>(&opt.hidden_layers)) widths = *w;
  if (auto* count = std::get_if<int64_t>(&opt.hidden_layers)) widths.assign(*count, opt.dim);
  register_module("layers", layers, std::make_shared<nn::Sequential>());
  int64_t in = opt.dim;
  for (int64_t w : widths) {
    layers->push_back(std::make_shared<nn::Linear>(in, w, /*bias=*/true, gen, dtype));
    layers->push_back(std::make_shared<nn::ReLU>());
    in = w;
  }
  layers->push_back(std::make_shared<nn::Linear>(in, opt.num_experts, /*bias=*/true, gen, dtype));
}

Tensor MoERouter::logits(const Tensor& x) { return layers->forward(x); }

Tensor MoERouter::probabilities(const Tensor& logits, const Tensor& noise) {
  if (options.mechanism == RouterMechanism::softmax) return softmax(logits, -1);
  Tensor g = noise;
  if (!g.defined()) {
    MOEGRAD_CHECK(gen_ != nullptr, "MoERouter: the gumbel mechanism needs gumbel_noise or a generator");
    g = gumbel_noise(logits.shape(), *gen_, logits.dtype(), logits.backend());
  }
  MOEGRAD_CHECK(g.shape() == logits.shape(), "MoERouter: gumbel_noise has shape ", g.shape(),
                ", logits have shape ", logits.shape());
  Tensor soft = softmax(logits + g, -1);
  Tensor hard = one_hot(argmax(soft, -1), options.num_experts, logits.dtype(), IndexCheck::trusted);
  return hard - detach(soft) + soft;
}

Tensor MoERouter::forward(const Tensor& x, const Tensor& noise) {
  return probabilities(logits(x), noise);
}

Tensor gumbel_noise(const Shape& shape, Generator& gen, DType dtype, Backend& backend) {
  NoGradGuard no_grad;
  const double tiny = dtype == DType::f32 ? 1e-7 : 1e-12;
  Tensor u = uniform(shape, tiny, 1.0 - tiny, gen, dtype, backend);
  return -log(-log(u));
}

}  // namespace moegrad::moe
