#include "moegrad/autograd/tensor_grad.h"

#include "moegrad/autograd/autograd_meta.h"
#include "moegrad/core/views.h"

namespace moegrad {

AutogradMeta& autograd_meta(const Tensor& t) {
  if (!t.autograd_meta()) t.set_autograd_meta(std::make_shared<AutogradMeta>());
  return *t.autograd_meta();
}

bool requires_grad(const Tensor& t) {
  return t.autograd_meta() != nullptr && t.autograd_meta()->requires_grad;
}

Tensor requires_grad_(const Tensor& t, bool on) {
  MOEGRAD_CHECK(!on || is_floating(t.dtype()),
                "requires_grad_: only float tensors can require grad, got ", t.dtype(), " of shape ",
                t.shape());
  MOEGRAD_CHECK(is_leaf(t), "requires_grad_: can only be changed on a leaf; use detach() first");
  autograd_meta(t).requires_grad = on;
  return t;
}

bool is_leaf(const Tensor& t) { return !t.autograd_meta() || !t.autograd_meta()->grad_fn; }

Tensor grad(const Tensor& t) { return t.autograd_meta() ? t.autograd_meta()->grad : Tensor(); }

void set_grad(const Tensor& t, const Tensor& g) {
  if (g.defined())
    MOEGRAD_CHECK(g.shape() == t.shape() && g.dtype() == t.dtype(), "set_grad: gradient ",
                  g.dtype(), " ", g.shape(), " does not match tensor ", t.dtype(), " ", t.shape());
  autograd_meta(t).grad = g;
}

void zero_grad(const Tensor& t) {
  if (t.autograd_meta()) t.autograd_meta()->grad = Tensor();
}

void retain_grad(const Tensor& t) {
  MOEGRAD_CHECK(requires_grad(t), "retain_grad: the tensor does not require grad");
  if (is_leaf(t)) return;  // leaves keep their gradient anyway
  AutogradMeta& m = autograd_meta(t);
  m.grad_fn->retained[m.output_nr].push_back(t.weak());
}

void register_hook(const Tensor& t, GradHook hook) {
  MOEGRAD_CHECK(requires_grad(t), "register_hook: the tensor does not require grad");
  AutogradMeta& m = autograd_meta(t);
  if (m.grad_fn) m.grad_fn->output_hooks[m.output_nr].push_back(std::move(hook));
  else m.leaf_hooks.push_back(std::move(hook));
}

Tensor detach(const Tensor& t) { return core::alias(t); }

std::string grad_fn_name(const Tensor& t) {
  return t.autograd_meta() && t.autograd_meta()->grad_fn ? t.autograd_meta()->grad_fn->name() : "";
}

}  // namespace moegrad
