#include "moegrad/moe/balance_loss.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::moe {

namespace {

// Choice j of a (k, ...) tensor.
Tensor choice(const Tensor& t, int64_t j) { return core::squeeze(core::narrow(t, 0, j, 1), 0); }

// (b, n, e) one-hot of choice 0's expert, as floats of the scores' dtype.
Tensor first_choice_hot(const Routing& r, int64_t e, DType dt) {
  return core::one_hot(choice(r.indices, 0), e, dt, IndexCheck::trusted);
}

}  // namespace

Tensor balance_loss(BalanceLoss kind, const Routing& r, int64_t top_n, bool normalize_scores) {
  const Tensor& scores = r.raw_gates;  // (b, n, e)
  const int64_t e = scores.size(-1);
  const DType dt = scores.dtype();
  if (kind == BalanceLoss::none) return zeros({1}, dt, scores.backend());
  const Tensor p = normalize_scores ? scores / sum(scores, {-1}, /*keepdim=*/true) : scores;
  const double ee = static_cast<double>(e);

  switch (kind) {
    case BalanceLoss::st_moe: {
      // st-moe-pytorch (Zoph et al. 2022, arXiv 2202.08906, as its code computes it): per
      // group, the fraction of tokens whose first choice was KEPT by expert i (after the
      // capacity drop) times the mean score of i, summed over experts, scaled by e.
      Tensor kept0 = core::to(core::unsqueeze(choice(r.kept, 0), -1), dt);
      Tensor density = core::mean(core::binary(BinaryOp::mul, first_choice_hot(r, e, dt), kept0), {1});  // (b, e)
      return mean(mean(p, {1}) * density) * (ee * ee);
    }
    case BalanceLoss::gshard: {
      // GShard (Lepikhin et al. 2020, arXiv 2006.16668), Algorithm 1 and mesh-tensorflow's
      // _top_2_gating: the same per-group product, with first choices counted BEFORE the
      // capacity drop.
      Tensor density = core::mean(first_choice_hot(r, e, dt), {1});  // (b, e)
      return mean(mean(p, {1}) * density) * (ee * ee);
    }
    case BalanceLoss::switch_: {
      // Switch Transformer (Fedus et al. 2021, arXiv 2101.03961) eq. 4-6: e * sum_i f_i P_i
      // over all tokens of the batch, f_i the fraction whose first choice is i.
      Tensor f = core::mean(first_choice_hot(r, e, dt), {0, 1});  // (e)
      return sum(mean(p, {0, 1}) * f) * ee;
    }
    case BalanceLoss::seq_aux: {
      // DeepSeek-V3 (arXiv 2412.19437) eq. 17-20, per sequence (a row of n tokens):
      // f_i = e / (k n) * (choices of i among the row's top-k), P_i = the row's mean score;
      // the loss is sum_i f_i P_i, averaged over the rows (alpha is balance_loss_coef).
      const double n = static_cast<double>(scores.size(1)), k = static_cast<double>(top_n);
      Tensor hot = core::one_hot(r.indices, e, dt, IndexCheck::trusted);  // (k, b, n, e)
      Tensor f = core::binary(BinaryOp::mul, core::sum(hot, {0, 2}), core::scalar_like(ee / (k * n), scores));  // (b, e)
      return mean(sum(mean(p, {1}) * f, {-1}));
    }
    case BalanceLoss::none: break;
  }
  return zeros({1}, dt, scores.backend());
}

}  // namespace moegrad::moe
