#pragma once
#include "moegrad/core/generator.h"
#include "moegrad/nn/module.h"

namespace moegrad::nn {

// Rows of `weight` (num_embeddings, embedding_dim) picked by int64 indices of any shape;
// init N(0, 1) as torch.
class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& indices);
  std::string type_name() const override { return "Embedding"; }
  std::string extra_repr() const override;

  const int64_t num_embeddings, embedding_dim;
  Tensor weight;
};

}  // namespace moegrad::nn
