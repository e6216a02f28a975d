#include "moegrad/moe/expert.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/moe/expert_kind.h"
#include "moegrad/nn/normalization.h"

namespace moegrad::moe {

void ExpertOptions::validate() const {
  check_field_ranges(fields(), *this);
  const ExpertKind& k = find_expert_kind(kind);
  if (hidden() < 1)
    throw ConfigError("hidden_mult", str_cat("gives the ", k.name, " expert a hidden width of ", hidden(), " < 1 (",
                                             k.doc, ")"));
}

int64_t ExpertOptions::hidden() const { return find_expert_kind(kind).hidden(*this); }

Expert::Expert(const ExpertOptions& opt, Generator& gen, DType dtype) : options(opt) {
  opt.validate();
  register_module("net", net, std::make_shared<nn::Sequential>());
  if (opt.prenorm) net->push_back(std::make_shared<nn::RMSNorm>(opt.dim, dtype));
  for (auto& layer : find_expert_kind(opt.kind).layers(opt, gen, dtype)) net->push_back(std::move(layer));
}

Experts::Experts(int64_t num_experts, const ExpertOptions& opt, Generator& gen, DType dtype) {
  if (num_experts < 1) throw ConfigError("num_experts", str_cat("must be >= 1, got ", num_experts));
  register_module("experts", experts, std::make_shared<nn::ModuleList<Expert>>());
  for (int64_t i = 0; i < num_experts; ++i) experts->push_back(std::make_shared<Expert>(opt, gen, dtype));
  total_ = num_experts;
}

void Experts::keep_part(dist::Communicator& group) {
  MOEGRAD_CHECK(group_ == nullptr, "Experts::keep_part: already split over a group");
  const int64_t k = group.size();
  MOEGRAD_CHECK(total_ % k == 0, "Experts::keep_part: ", total_, " experts do not split over ", k, " ranks");
  const int64_t count = total_ / k;
  first_ = group.rank() * count;
  auto part = std::make_shared<nn::ModuleList<Expert>>(static_cast<size_t>(first_));
  for (int64_t i = 0; i < count; ++i)
    part->push_back(experts->begin()[first_ + i]);
  experts = part;
  group_ = &group;
}

Tensor Experts::forward(const Tensor& x) {
  MOEGRAD_CHECK(x.dim() >= 2 && x.size(0) == static_cast<int64_t>(size()), "Experts: input of shape ",
                x.shape(), " must start with num_experts = ", size());
  TensorList outs;
  for (size_t i = 0; i < size(); ++i) outs.push_back((*this)[i].forward(squeeze(narrow(x, 0, i, 1), 0)));
  return stack(outs, 0);
}

}  // namespace moegrad::moe
