#pragma once
// The feedforward experts of st-moe-pytorch, of any registered kind.
#include <memory>
#include <string>

#include "moegrad/core/generator.h"
#include "moegrad/core/option_fields.h"
#include "moegrad/dist/communicator.h"
#include "moegrad/nn/container.h"

namespace moegrad::moe {

struct ExpertOptions {
  int64_t dim = 0;
  double hidden_mult = 4.0;
  bool mult_bias = true;  // geglu only
  bool prenorm = false;
  std::string kind = "geglu";  // a registered expert kind (moe/expert_kind.h)
  static const OptionFields<ExpertOptions>& fields();
  void validate() const;
  // The kind's hidden width: int(dim * hidden_mult * 2 / 3) for geglu, as Python computes it.
  int64_t hidden() const;
};

// [RMSNorm(dim)] then the layers of its kind (moe/expert_kind.h), named net.<i>: by default
// Linear(dim, 2h) -> GEGLU(h) -> Linear(h, dim). Linear weights and biases ~ U(-out^-0.5,
// out^-0.5). `net` may be replaced (expert.net = other): the module's names follow it.
class Expert : public nn::Layer {
 public:
  Expert(const ExpertOptions& opt, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) override { return net->forward(x); }
  std::string type_name() const override { return "Expert"; }

  const ExpertOptions options;
  std::shared_ptr<nn::Sequential> net;
};

// experts.<i>: input (e, ..., d), expert i applied to slice i.
class Experts : public nn::Module {
 public:
  Experts(int64_t num_experts, const ExpertOptions& opt, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& x);
  std::string type_name() const override { return "Experts"; }
  // The experts held here: all of them, or this rank's part under expert parallelism.
  Expert& operator[](size_t i) const { return (*experts)[i]; }
  size_t size() const { return experts->size(); }

  // Expert parallelism: keeps only this rank's experts of `group`, num_experts / size each
  // in rank order, under the names they have in the whole (experts.4 stays experts.4), and
  // drops the others. The whole is built first on every rank, so expert i's weights are
  // the same for any group size.
  void keep_part(dist::Communicator& group);
  // The ranks that hold the other experts (null: every expert is here), and the global
  // index of the first one held here.
  dist::Communicator* group() const { return group_; }
  int64_t first() const { return first_; }
  int64_t num_total() const { return total_; }

  std::shared_ptr<nn::ModuleList<Expert>> experts;

 private:
  dist::Communicator* group_ = nullptr;
  int64_t first_ = 0, total_ = 0;
};

}  // namespace moegrad::moe
