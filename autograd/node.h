#pragma once
// The recorded graph: one Node per op call, pointing at the nodes that produced its
// inputs. Leaves that require grad end in an AccumulateGrad node.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "moegrad/core/tensor.h"

namespace moegrad {

class Node;

// Returns the gradient to use instead of `grad`, or an undefined tensor to keep it.
using GradHook = std::function<Tensor(const Tensor& grad)>;

// Where the gradient of one forward input goes: output `input_nr` of `node`.
struct Edge {
  std::shared_ptr<Node> node;  // null: the input needs no gradient
  uint32_t input_nr = 0;
};

struct TensorInfo {
  Shape shape;
  DType dtype;
  Device device;  // where the missing gradient of this tensor is made
};

class Node {
 public:
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  // Frees the chain of nodes only this one keeps alive with a loop, not by recursion: a
  // graph is as deep as the ops recorded (an unrolled loop), deeper than any call stack.
  virtual ~Node();
  // Gradients w.r.t. the forward outputs in, gradients w.r.t. the forward inputs out
  // (one per next_edges entry, undefined where there is none).
  virtual TensorList apply(const TensorList& grad_outputs) = 0;
  virtual std::string name() const = 0;

  std::vector<Edge> next_edges;      // one per forward input
  std::vector<TensorInfo> inputs;    // forward inputs: grads are summed down to these shapes
  std::vector<TensorInfo> outputs;   // forward outputs: missing grads become zeros of these
  // Per forward output: hooks to run on its gradient, and tensors keeping it (retain_grad).
  std::vector<std::vector<GradHook>> output_hooks;
  std::vector<std::vector<std::weak_ptr<TensorImpl>>> retained;
};

// Sink for a leaf: runs the leaf's hooks and adds the gradient into its .grad.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(Tensor leaf);
  TensorList apply(const TensorList& grad_outputs) override;
  std::string name() const override { return "AccumulateGrad"; }

 private:
  Tensor leaf_;
};

}  // namespace moegrad
