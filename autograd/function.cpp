#include "moegrad/autograd/function.h"

#include <cxxabi.h>

#include <cstdlib>

namespace moegrad::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : mangled;
  std::free(s);
  // "moegrad::(anonymous namespace)::TanhOp" reads better as "TanhOp".
  size_t colon = out.rfind("::");
  return colon == std::string::npos ? out : out.substr(colon + 2);
}

void connect_inputs(Node& node, const TensorList& inputs) {
  for (const Tensor& t : inputs) {
    Edge e;
    if (t.defined() && requires_grad(t)) {
      AutogradMeta& m = autograd_meta(t);
      if (m.grad_fn) {
        e = {m.grad_fn, m.output_nr};
      } else {
        std::shared_ptr<Node> acc = m.accumulator.lock();
        if (!acc) {
          acc = std::make_shared<AccumulateGrad>(t);
          m.accumulator = acc;
        }
        e = {acc, 0};
      }
    }
    node.next_edges.push_back(std::move(e));
    node.inputs.push_back(t.defined() ? TensorInfo{t.shape(), t.dtype(), t.device()} : TensorInfo{{}, DType::f32, Device::cpu()});
  }
}

void attach_output(const std::shared_ptr<Node>& node, Tensor& out, uint32_t nr,
                   const TensorList& inputs) {
  if (node->outputs.size() <= nr) {
    node->outputs.resize(nr + 1);
    node->output_hooks.resize(nr + 1);
    node->retained.resize(nr + 1);
  }
  node->outputs[nr] = {out.shape(), out.dtype(), out.device()};
  if (!is_floating(out.dtype())) return;
  const bool reused = out.autograd_meta() != nullptr ||
                      std::any_of(inputs.begin(), inputs.end(),
                                  [&](const Tensor& t) { return t.defined() && t.same(out); });
  if (reused) out = core::alias(out);
  AutogradMeta& m = autograd_meta(out);
  m.requires_grad = true;
  m.grad_fn = node;
  m.output_nr = nr;
}

}  // namespace moegrad::detail
