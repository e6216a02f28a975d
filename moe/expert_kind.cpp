#include "moegrad/moe/expert_kind.h"

#include <cmath>

#include "moegrad/core/checked_math.h"
#include "moegrad/core/registry.h"
#include "moegrad/moe/expert.h"
#include "moegrad/nn/activation.h"
#include "moegrad/nn/geglu.h"
#include "moegrad/nn/init.h"
#include "moegrad/nn/linear.h"
#include "moegrad/nn/swiglu.h"

namespace moegrad::moe {

namespace {

// Linear weights and biases ~ U(-out^-0.5, out^-0.5), as st-moe-pytorch initialises its experts.
std::shared_ptr<nn::Linear> expert_linear(int64_t in, int64_t out, Generator& gen, DType dtype) {
  auto l = std::make_shared<nn::Linear>(in, out, /*bias=*/true, gen, dtype);
  const double bound = 1.0 / std::sqrt(static_cast<double>(out));
  nn::init::uniform_(l->weight, -bound, bound, gen);
  nn::init::uniform_(l->bias, -bound, bound, gen);
  return l;
}

int64_t gated_hidden(const ExpertOptions& o) {
  return checked_floor_to_int64(static_cast<double>(o.dim) * o.hidden_mult * 2.0 / 3.0, "expert hidden width");
}
double gated_hidden_estimate(const ExpertOptions& o) {
  return std::floor(static_cast<double>(o.dim) * o.hidden_mult * 2.0 / 3.0);
}

// Linear(d, 2h) -> act(h) -> Linear(h, d): the two gated kinds.
template <typename MakeAct>
std::vector<std::shared_ptr<nn::Layer>> gated_layers(const ExpertOptions& o, Generator& gen, DType dtype,
                                                     MakeAct make_act) {
  const int64_t h = gated_hidden(o);
  return {expert_linear(o.dim, checked_mul(2, h, "expert hidden width x 2"), gen, dtype), make_act(h),
          expert_linear(h, o.dim, gen, dtype)};
}

ExpertKind geglu_kind() {
  return {
      .name = "geglu",
      .doc = "Linear(d, 2h) -> GEGLU(h) -> Linear(h, d), h = int(d * hidden_mult * 2 / 3) (st-moe-pytorch)",
      .hidden = gated_hidden,
      .layers =
          [](const ExpertOptions& o, Generator& gen, DType dtype) {
            return gated_layers(o, gen, dtype, [&](int64_t h) { return std::make_shared<nn::GEGLU>(h, o.mult_bias, dtype); });
          },
      .parameter_count =
          [](const ExpertOptions& o) {
            const double d = static_cast<double>(o.dim), h = gated_hidden_estimate(o);
            return (d * 2 * h + 2 * h) + (o.mult_bias ? h : 0) + (h * d + d);
          },
      .activations_per_token =
          [](const ExpertOptions& o) {
            const double d = static_cast<double>(o.dim), h = gated_hidden_estimate(o);
            return 2 * h + h + d;  // the 2h projection, the gated h, the output
          },
      .grouped = [](const ExpertOptions& o) -> std::optional<GegluLayout> {
        if (o.prenorm) return std::nullopt;
        return GegluLayout{"net.0", "net.1", "net.2"};
      }};
}

ExpertKind swiglu_kind() {
  return {
      .name = "swiglu",
      .doc = "Linear(d, 2h) -> SwiGLU(h) -> Linear(h, d), h = int(d * hidden_mult * 2 / 3) (LLaMA)",
      .hidden = gated_hidden,
      .layers =
          [](const ExpertOptions& o, Generator& gen, DType dtype) {
            return gated_layers(o, gen, dtype, [](int64_t h) { return std::make_shared<nn::SwiGLU>(h); });
          },
      .parameter_count =
          [](const ExpertOptions& o) {
            const double d = static_cast<double>(o.dim), h = gated_hidden_estimate(o);
            return (d * 2 * h + 2 * h) + (h * d + d);
          },
      .activations_per_token =
          [](const ExpertOptions& o) {
            const double d = static_cast<double>(o.dim), h = gated_hidden_estimate(o);
            return 2 * h + 3 * h + d;  // the 2h projection, silu's sigmoid and product, the gated h, the output
          },
      .grouped = nullptr};
}

ExpertKind mlp_kind() {
  auto hidden = [](const ExpertOptions& o) {
    return checked_floor_to_int64(static_cast<double>(o.dim) * o.hidden_mult, "expert hidden width");
  };
  return {
      .name = "mlp",
      .doc = "Linear(d, h) -> GELU -> Linear(h, d), h = int(d * hidden_mult)",
      .hidden = hidden,
      .layers =
          [hidden](const ExpertOptions& o, Generator& gen, DType dtype) {
            const int64_t h = hidden(o);
            return std::vector<std::shared_ptr<nn::Layer>>{expert_linear(o.dim, h, gen, dtype),
                                                           std::make_shared<nn::GELU>(),
                                                           expert_linear(h, o.dim, gen, dtype)};
          },
      .parameter_count =
          [](const ExpertOptions& o) {
            const double d = static_cast<double>(o.dim), h = std::floor(d * o.hidden_mult);
            return (d * h + h) + (h * d + d);
          },
      .activations_per_token =
          [](const ExpertOptions& o) {
            const double d = static_cast<double>(o.dim), h = std::floor(d * o.hidden_mult);
            return 2 * h + d;  // the projection, its GELU, the output
          },
      .grouped = nullptr};
}

Registry<ExpertKind>& registry() {
  // Never destroyed: experts may be built while statics unwind.
  static auto* r = new Registry<ExpertKind>("expert kind", {geglu_kind(), swiglu_kind(), mlp_kind()});
  return *r;
}

}  // namespace

void register_expert_kind(ExpertKind kind) {
  MOEGRAD_CHECK(!kind.name.empty() && kind.hidden && kind.layers && kind.parameter_count && kind.activations_per_token,
                "register_expert_kind: '", kind.name, "' needs a name, hidden, layers, parameter_count and ",
                "activations_per_token");
  registry().add(std::move(kind));
}

const ExpertKind& find_expert_kind(const std::string& name) { return registry().find(name); }

std::vector<std::string> expert_kind_names() { return registry().names(); }

}  // namespace moegrad::moe
