#include "moegrad/nn/embedding.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

Embedding::Embedding(int64_t n, int64_t d, Generator& gen, DType dtype)
    : num_embeddings(n), embedding_dim(d) {
  MOEGRAD_CHECK(n > 0 && d > 0, "Embedding: num_embeddings and embedding_dim must be positive, got ",
                n, " and ", d);
  weight = randn({n, d}, gen, dtype);
  register_parameter("weight", weight);
}

Tensor Embedding::forward(const Tensor& indices) {
  MOEGRAD_CHECK(indices.dtype() == DType::i64, "Embedding: indices must be int64, got ",
                indices.dtype());
  Shape out = indices.shape();
  out.push_back(embedding_dim);
  return reshape(index_select(weight, 0, core::reshape(indices, {indices.numel()})), out);
}

std::string Embedding::extra_repr() const { return str_cat(num_embeddings, ", ", embedding_dim); }

}  // namespace moegrad::nn
