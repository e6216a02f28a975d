#pragma once
#include "moegrad/core/generator.h"
#include "moegrad/nn/linear.h"
#include "moegrad/nn/module.h"

namespace moegrad::nn {

// Multi-head causal self-attention, as a GPT block writes it:
//   q, k, v = to_qkv(x).split(dim, -1); heads (b, n, h, dh) -> (b, h, n, dh)
//   out = to_out(merge(softmax(mask(q k^T / sqrt(dh))) v))
// where token i attends to tokens j <= i. Shape letters: b batch, n tokens, d = dim,
// h heads, dh = d / h.
class CausalSelfAttention : public Layer {
 public:
  CausalSelfAttention(int64_t dim, int64_t heads, Generator& gen, DType dtype = DType::f32);
  // x (b, n, d) -> (b, n, d)
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "CausalSelfAttention"; }
  std::string extra_repr() const override;

  const int64_t dim, heads, dim_head;
  std::shared_ptr<Linear> to_qkv;  // (3d, d), rows q then k then v
  std::shared_ptr<Linear> to_out;  // (d, d)
};

}  // namespace moegrad::nn
