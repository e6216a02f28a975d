#pragma once
// The op API: every differentiable op, built-in or user-written, is a struct with a
// forward and a backward, and `apply<Op>(args...)` records it in the graph.
//
//   struct ScaleOp {                          // y = alpha * x
//     double alpha = 0;
//     Tensor forward(OpContext& ctx, const Tensor& x, double a) {
//       alpha = a;                            // members keep non-tensor state
//       return core::binary(BinaryOp::mul, x, core::scalar_like(a, x));
//     }
//     TensorList backward(const OpContext& ctx, const Tensor& grad_y) {
//       return {grad_y * alpha};              // one gradient per tensor argument
//     }
//   };
//   Tensor scale(const Tensor& x, double a) { return apply<ScaleOp>(x, a); }
//
// Rules: forward runs with recording off, so it may call any op. Tensor and TensorList
// arguments are the op's inputs, in order; backward returns one gradient per input
// tensor (an undefined Tensor where there is none). A gradient may have the broadcast
// shape of the result: the engine sums it down to the input's shape. Saved tensors
// (ctx.save) are kept without their graph. Forward returns a Tensor (backward takes one
// gradient) or a TensorList (backward takes one per output; missing ones are zeros).
// Outputs that are not float (indices, masks) never carry a graph.
#include <algorithm>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "moegrad/autograd/anomaly_mode.h"
#include "moegrad/autograd/autograd_meta.h"
#include "moegrad/autograd/grad_mode.h"
#include "moegrad/autograd/node.h"
#include "moegrad/autograd/tensor_grad.h"
#include "moegrad/core/views.h"

namespace moegrad {

class OpContext {
 public:
  void save(const Tensor& t) { saved_.push_back(t.defined() ? core::alias(t) : t); }
  template <typename... Ts>
  void save_all(const Ts&... ts) {
    (save(ts), ...);
  }
  const Tensor& saved(size_t i) const {
    MOEGRAD_CHECK(i < saved_.size(), "OpContext::saved: index ", i, " but only ", saved_.size(),
                  " tensors were saved");
    return saved_[i];
  }
  // Whether input i (in argument order) needs a gradient: backward may skip the others.
  bool needs_input_grad(size_t i) const { return i < needs_.size() && needs_[i]; }

 private:
  template <typename Op, typename... Args>
  friend auto apply(Args&&... args);
  std::vector<Tensor> saved_;
  std::vector<bool> needs_;
};

namespace detail {

inline void collect_inputs(TensorList& out, const Tensor& t) { out.push_back(t); }
inline void collect_inputs(TensorList& out, const TensorList& ts) {
  out.insert(out.end(), ts.begin(), ts.end());
}
template <typename T>
void collect_inputs(TensorList&, const T&) {}

std::string demangle(const char* mangled);
// Edges and shapes of the inputs of a new node.
void connect_inputs(Node& node, const TensorList& inputs);
// Makes `out` output `nr` of `node`; may replace out by an alias so that an input
// returned unchanged keeps its own graph.
void attach_output(const std::shared_ptr<Node>& node, Tensor& out, uint32_t nr,
                   const TensorList& inputs);

template <typename Op, typename Result>
void check_forward(const TensorList& inputs, const Result& out) {
  if constexpr (std::is_same_v<Result, Tensor>) check_anomaly("the forward of " + demangle(typeid(Op).name()), inputs, {out}, "output");
  else check_anomaly("the forward of " + demangle(typeid(Op).name()), inputs, out, "output");
}

template <typename Op, typename Result>
class FunctionNode final : public Node {
 public:
  TensorList apply(const TensorList& grads) override {
    if constexpr (std::is_same_v<Result, Tensor>) return op.backward(ctx, grads[0]);
    else return op.backward(ctx, grads);
  }
  std::string name() const override { return demangle(typeid(Op).name()); }
  Op op{};
  OpContext ctx;
};

}  // namespace detail

template <typename Op, typename... Args>
auto apply(Args&&... args) {
  TensorList inputs;
  (detail::collect_inputs(inputs, args), ...);
  const bool record =
      GradMode::is_enabled() && std::any_of(inputs.begin(), inputs.end(), [](const Tensor& t) {
        return t.defined() && requires_grad(t);
      });
  using Result = decltype(std::declval<Op&>().forward(std::declval<OpContext&>(), args...));
  if (!record) {
    Op op{};
    OpContext ctx;
    NoGradGuard guard;
    Result out = op.forward(ctx, args...);
    if (AnomalyMode::is_enabled()) detail::check_forward<Op>(inputs, out);
    return out;
  }
  auto node = std::make_shared<detail::FunctionNode<Op, Result>>();
  for (const Tensor& t : inputs) node->ctx.needs_.push_back(t.defined() && requires_grad(t));
  Result out;
  {
    NoGradGuard guard;
    out = node->op.forward(node->ctx, args...);
  }
  if (AnomalyMode::is_enabled()) detail::check_forward<Op>(inputs, out);
  detail::connect_inputs(*node, inputs);
  if constexpr (std::is_same_v<Result, Tensor>) {
    detail::attach_output(node, out, 0, inputs);
  } else {
    for (size_t i = 0; i < out.size(); ++i)
      detail::attach_output(node, out[i], static_cast<uint32_t>(i), inputs);
  }
  return out;
}

}  // namespace moegrad
