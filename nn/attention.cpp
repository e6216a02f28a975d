#include "moegrad/nn/attention.h"

#include <cmath>
#include <limits>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::nn {

namespace {
// Checked before the member initialisers divide by heads.
int64_t checked_dim_head(int64_t dim, int64_t heads) {
  if (dim < 1) throw ConfigError("dim", str_cat("must be >= 1, got ", dim));
  if (heads < 1) throw ConfigError("heads", str_cat("must be >= 1, got ", heads));
  if (dim % heads != 0)
    throw ConfigError("heads", str_cat("must divide dim=", dim, ", got ", heads));
  return dim / heads;
}
}  // namespace

CausalSelfAttention::CausalSelfAttention(int64_t d, int64_t h, Generator& gen, DType dtype)
    : dim(d), heads(h), dim_head(checked_dim_head(d, h)) {
  register_module("to_qkv", to_qkv, std::make_shared<Linear>(d, 3 * d, /*bias=*/false, gen, dtype));
  register_module("to_out", to_out, std::make_shared<Linear>(d, d, /*bias=*/false, gen, dtype));
}

Tensor CausalSelfAttention::forward(const Tensor& x) {
  MOEGRAD_CHECK(x.dim() == 3 && x.size(2) == dim,
                "CausalSelfAttention: x must be (batch, tokens, dim=", dim, "), got shape ",
                x.shape());
  MOEGRAD_CHECK(is_floating(x.dtype()), "CausalSelfAttention: x must be floating point, got ",
                x.dtype());
  const int64_t b = x.size(0), n = x.size(1);
  TensorList qkv = split(to_qkv->forward(x), dim, -1);  // 3 x (b, n, d)
  auto to_heads = [&](const Tensor& t) {                // (b, n, d) -> (b, h, n, dh)
    return permute(reshape(t, {b, n, heads, dim_head}), {0, 2, 1, 3});
  };
  Tensor q = to_heads(qkv[0]), k = to_heads(qkv[1]), v = to_heads(qkv[2]);
  Tensor scores = matmul(q, transpose(k, -2, -1)) / std::sqrt(static_cast<double>(dim_head));
  // (n, n): row i (query) may see column j (key) when j <= i; the diagonal is always
  // visible, so no row is all -inf and softmax stays finite.
  Tensor pos = arange(0.0, static_cast<double>(n), 1.0, DType::i64, x.backend());
  Tensor causal = le(core::reshape(pos, {1, n}), core::reshape(pos, {n, 1}));
  scores = where(causal, scores, -std::numeric_limits<double>::infinity());  // (b, h, n, n)
  Tensor out = matmul(softmax(scores, -1), v);                               // (b, h, n, dh)
  out = reshape(permute(out, {0, 2, 1, 3}), {b, n, dim});
  return to_out->forward(out);
}

std::string CausalSelfAttention::extra_repr() const {
  return str_cat("dim=", dim, ", heads=", heads);
}

}  // namespace moegrad::nn
