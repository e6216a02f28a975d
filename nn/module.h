#pragma once
// Module: parameters, buffers and submodules registered by name, so that names, order
// and nesting are exactly PyTorch's state_dict() ("layers.0.weight", "net.2.bias").
//
//   class Linear : public Layer {
//    public:
//     Linear(...) { register_parameter("weight", weight); }
//     Tensor weight;  // the module reads its own member; registration points at it
//   };
//
// Registration stores a pointer to the member, so to(dtype) and load_state_dict update
// what forward reads. The same holds for submodules: register_module("net", net, ...)
// registers the member `net` itself, so assigning another module to it later
// (expert.net = my_net, as a torch attribute assignment) is what named_parameters(),
// state_dict(), to() and the optimizer built afterwards see. Modules are held by
// shared_ptr and never copied or moved.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "moegrad/core/error.h"
#include "moegrad/nn/state_dict.h"

namespace moegrad::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // PyTorch's class name, shown in the printed tree.
  virtual std::string type_name() const = 0;
  // Constructor arguments worth showing, e.g. "in_features=8, out_features=4, bias=true".
  virtual std::string extra_repr() const { return ""; }

  NamedTensors named_parameters() const;
  TensorList parameters() const;
  NamedTensors named_buffers() const;
  // The children as their members hold them now (a member set to null is left out).
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;
  // The submodule at a dotted path ("moe.experts.experts.3.net"), or null.
  std::shared_ptr<Module> find_module(const std::string& path) const;
  int64_t num_parameters() const;

  // Parameters then buffers of each module, parents before children, in registration order.
  StateDict state_dict() const;
  // Copies values into the registered tensors (converting dtype to theirs). With strict,
  // missing, unexpected and mis-shaped entries are all reported by name in one error.
  void load_state_dict(const StateDict& sd, bool strict = true);

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  // Tells this module and every one below it (parents first) that the optimizer stepped:
  // the trainer calls it after each step, for updates that are not gradient steps.
  void notify_optimizer_step();
  // Converts every parameter and buffer to dtype (parameters stay trainable leaves).
  void to(DType dtype);
  // Moves every parameter (with its gradient) and buffer to device, in place as torch's
  // does. The registered tensors are replaced, so move a model before making its optimizer.
  void to(const Device& device);

  // The module tree, as PyTorch prints it.
  std::string repr() const;

 protected:
  // A module's own update after an optimizer step (DeepSeek-V3's expert bias); none by default.
  virtual void on_optimizer_step() {}
  void register_parameter(const std::string& name, Tensor& slot);
  void register_buffer(const std::string& name, Tensor& slot);
  // Sets the member `slot` to m and registers the member: the child named `name` is
  // whatever `slot` holds from then on.
  template <typename M>
  std::shared_ptr<M>& register_module(const std::string& name, std::shared_ptr<M>& slot, std::shared_ptr<M> m) {
    MOEGRAD_CHECK(m != nullptr, type_name(), ": submodule '", name, "' is null");
    slot = std::move(m);
    add_child(name, [&slot]() -> std::shared_ptr<Module> { return slot; });
    return slot;
  }
  // A child this module holds itself, not through a member (the elements of containers).
  void register_element(const std::string& name, std::shared_ptr<Module> m);

 private:
  void collect(const std::string& prefix, bool params, NamedTensors& out) const;
  void repr_into(std::string& out, int indent) const;
  void check_name(const std::string& name) const;

  bool training_ = true;
  std::vector<std::pair<std::string, Tensor*>> params_;
  std::vector<std::pair<std::string, Tensor*>> buffers_;
  void add_child(const std::string& name, std::function<std::shared_ptr<Module>()> get);

  // Each child's name and how to read it now.
  std::vector<std::pair<std::string, std::function<std::shared_ptr<Module>()>>> children_;
};

// A module with one tensor in and one out: what Sequential chains.
class Layer : public Module {
 public:
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }
};

}  // namespace moegrad::nn
