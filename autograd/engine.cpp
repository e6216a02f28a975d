// The backward walk: count each node's consumers, then process nodes once all of them
// have delivered their gradient (a reverse topological order), with explicit stacks so
// that deep graphs (long unrolled loops) cannot overflow the call stack.
#include <unordered_map>

#include "moegrad/autograd/anomaly_mode.h"
#include "moegrad/autograd/autograd_meta.h"
#include "moegrad/autograd/tensor_grad.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

// Sums a gradient of a broadcast result down to the shape of the input it belongs to.
Tensor sum_to(const Tensor& g, const Shape& shape, const Node& node) {
  if (g.shape() == shape) return g;
  const int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  bool ok = lead >= 0;
  Axes axes;
  for (int64_t i = 0; ok && i < g.dim(); ++i) {
    if (i < lead) {
      axes.push_back(i);
    } else if (shape[i - lead] != g.shape()[i]) {
      ok = shape[i - lead] == 1;
      axes.push_back(i);
    }
  }
  MOEGRAD_CHECK(ok, "backward of ", node.name(), ": gradient of shape ", g.shape(),
                " cannot be summed to input shape ", shape);
  return core::reshape(core::sum(g, axes, /*keepdim=*/true), shape);
}

void accumulate(Tensor& slot, const Tensor& g) {
  // Out of place: an op may hand the same gradient tensor to several inputs.
  slot = slot.defined() ? core::binary(BinaryOp::add, slot, g) : g;
}

Edge root_edge(const Tensor& root) {
  AutogradMeta& m = autograd_meta(root);
  if (m.grad_fn) return {m.grad_fn, m.output_nr};
  std::shared_ptr<Node> acc = m.accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(root);
    m.accumulator = acc;
  }
  return {acc, 0};
}

}  // namespace

AccumulateGrad::AccumulateGrad(Tensor leaf) : leaf_(std::move(leaf)) {
  outputs.push_back({leaf_.shape(), leaf_.dtype(), leaf_.device()});
  output_hooks.resize(1);
  retained.resize(1);
}

namespace {
// Whether nothing but the engine's gradient list and `g` can reach g's memory, so the leaf
// may keep that buffer instead of a copy of it: no other handle (an op may hand one gradient
// to several inputs), no view, no larger buffer kept alive, and the leaf's own layout.
bool gradient_is_exclusive(const Tensor& g, const Tensor& leaf) {
  return g.handle_count() == 2 && g.storage().use_count() == 1 && g.autograd_meta() == nullptr &&
         g.is_contiguous() && g.offset() == 0 && g.shape() == leaf.shape() && g.dtype() == leaf.dtype() &&
         g.storage()->nbytes() == static_cast<size_t>(g.numel()) * dtype_size(g.dtype());
}
}  // namespace

TensorList AccumulateGrad::apply(const TensorList& grads) {
  Tensor g = grads[0];
  AutogradMeta& m = autograd_meta(leaf_);
  for (const GradHook& hook : m.leaf_hooks) {
    Tensor r = hook(g);
    if (r.defined()) g = r;
  }
  if (m.grad.defined()) core::binary_(BinaryOp::add, m.grad, g);
  else if (gradient_is_exclusive(g, leaf_)) m.grad = core::alias(g);  // the engine drops its handle next
  else m.grad = core::clone(g);  // owned, so later in-place accumulation touches nothing else
  return {};
}

void backward(const Tensor& root, const Tensor& grad_root) {
  MOEGRAD_CHECK(requires_grad(root),
                "backward: the tensor does not require grad (no input of the graph has "
                "requires_grad_ set, or it was computed under NoGradGuard)");
  Tensor g0 = grad_root;
  if (g0.defined()) {
    MOEGRAD_CHECK(g0.shape() == root.shape() && g0.dtype() == root.dtype(),
                  "backward: upstream gradient ", g0.dtype(), " ", g0.shape(),
                  " does not match the tensor ", root.dtype(), " ", root.shape());
  } else {
    MOEGRAD_CHECK(root.numel() == 1, "backward: without an upstream gradient the tensor must have "
                  "one element, got shape ", root.shape());
    g0 = ones_like(root);
  }
  NoGradGuard no_grad;
  const Edge start = root_edge(root);

  std::unordered_map<Node*, int> pending;  // consumers that have not delivered yet
  {
    std::vector<Node*> stack{start.node.get()};
    pending[start.node.get()] = 0;
    while (!stack.empty()) {
      Node* n = stack.back();
      stack.pop_back();
      for (const Edge& e : n->next_edges) {
        if (!e.node) continue;
        auto [it, fresh] = pending.try_emplace(e.node.get(), 0);
        ++it->second;
        if (fresh) stack.push_back(e.node.get());
      }
    }
  }

  std::unordered_map<Node*, TensorList> buffers;
  buffers[start.node.get()].resize(start.node->outputs.size());
  buffers[start.node.get()][start.input_nr] = g0;
  std::vector<std::shared_ptr<Node>> ready{start.node};
  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    TensorList grads = std::move(buffers[node.get()]);
    buffers.erase(node.get());
    grads.resize(node->outputs.size());

    bool any = false;
    for (const Tensor& g : grads) any = any || g.defined();
    TensorList input_grads;
    if (any) {
      for (size_t i = 0; i < grads.size(); ++i) {
        const TensorInfo& info = node->outputs[i];
        if (!is_floating(info.dtype)) continue;
        if (!grads[i].defined()) grads[i] = zeros(info.shape, info.dtype, info.device);
        for (const GradHook& hook : node->output_hooks[i]) {
          Tensor r = hook(grads[i]);
          if (r.defined()) grads[i] = r;
        }
        for (const auto& weak : node->retained[i]) {
          if (auto impl = weak.lock()) {
            Tensor kept(impl);
            AutogradMeta& m = autograd_meta(kept);
            m.grad = m.grad.defined() ? core::binary(BinaryOp::add, m.grad, grads[i])
                                      : core::clone(grads[i]);
          }
        }
      }
      const bool anomaly = AnomalyMode::is_enabled();
      {
        // The ops a backward formula is written with are checked as one: the node's name
        // is what the user can act on, not the DivOp inside SqrtOp's backward.
        AnomalyMode::set_enabled(false);
        struct Restore {
          bool on;
          ~Restore() { AnomalyMode::set_enabled(on); }
        } restore{anomaly};
        input_grads = node->apply(grads);
      }
      if (anomaly) check_anomaly("the backward of " + node->name(), grads, input_grads, "gradient of input");
      MOEGRAD_CHECK(input_grads.size() == node->next_edges.size() || node->next_edges.empty(),
                    "backward of ", node->name(), ": returned ", input_grads.size(),
                    " gradients for ", node->next_edges.size(), " inputs");
    }

    for (size_t j = 0; j < node->next_edges.size(); ++j) {
      const Edge& e = node->next_edges[j];
      if (!e.node) continue;
      if (j < input_grads.size() && input_grads[j].defined()) {
        const TensorInfo& in = node->inputs[j];
        MOEGRAD_CHECK(input_grads[j].dtype() == in.dtype, "backward of ", node->name(),
                      ": gradient for input ", j, " is ", input_grads[j].dtype(), ", the input is ",
                      in.dtype);
        Tensor g = sum_to(input_grads[j], in.shape, *node);
        TensorList& buf = buffers[e.node.get()];
        buf.resize(e.node->outputs.size());
        accumulate(buf[e.input_nr], g);
      }
      if (--pending[e.node.get()] == 0) ready.push_back(e.node);
    }
  }
}

}  // namespace moegrad
