#pragma once
// The models the trainer builds from `model.kind` (train/model_kind.h), behind one interface: forward a batch,
// get the main loss, the auxiliary losses and each MoE layer's routing.
#include <memory>
#include <vector>

#include "moegrad/moe/moe.h"
#include "moegrad/nn/module.h"
#include "moegrad/train/config.h"
#include "moegrad/train/task.h"

namespace moegrad::train {

struct LayerRouting {
  moe::Routing routing;
  Tensor balance_loss;
  Tensor router_z_loss;
  moe::DispatchTrace trace;
};

struct ModelOutput {
  Tensor prediction;  // clusters: (1, B, output_dim); char_lm: logits (B, seq, vocab)
  Tensor main_loss;
  Tensor aux_loss;    // sum over MoE layers of their weighted balance and z losses (0 if none)
  std::vector<LayerRouting> layers;
};

class TrainModel : public nn::Module {
 public:
  virtual ModelOutput forward(const Batch& batch, const moe::GatingCall& call) = 0;
  // Parameters one token passes through: experts count top_n times, not num_experts times.
  virtual int64_t active_parameters() const = 0;
};

// `vocab` is the char_lm vocabulary size (ignored by the cluster models). On c's device.
std::unique_ptr<TrainModel> make_model(const Config& c, int64_t vocab, Generator& gen, DType dtype);

}  // namespace moegrad::train
