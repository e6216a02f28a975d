#pragma once
// Models for the `clusters` task: in_proj -> depth residual blocks -> norm -> head, the
// blocks being SparseMoEBlocks (mlp_moe) or prenorm dense feedforwards (mlp_dense).
#include "moegrad/nn/container.h"
#include "moegrad/nn/linear.h"
#include "moegrad/nn/normalization.h"
#include "moegrad/train/model.h"

namespace moegrad::train {

class MlpMoE : public TrainModel {
 public:
  MlpMoE(const Config& c, Generator& gen, DType dtype);
  std::string type_name() const override { return "MlpMoE"; }
  ModelOutput forward(const Batch& batch, const moe::GatingCall& call) override;
  int64_t active_parameters() const override;

  std::shared_ptr<nn::Linear> in_proj;
  std::shared_ptr<nn::ModuleList<moe::SparseMoEBlock>> blocks;
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<nn::Linear> head;
};

class MlpDense : public TrainModel {
 public:
  MlpDense(const Config& c, Generator& gen, DType dtype);
  std::string type_name() const override { return "MlpDense"; }
  ModelOutput forward(const Batch& batch, const moe::GatingCall& call) override;
  int64_t active_parameters() const override { return num_parameters(); }

  std::shared_ptr<nn::Linear> in_proj;
  std::shared_ptr<nn::ModuleList<moe::Expert>> blocks;
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<nn::Linear> head;
};

}  // namespace moegrad::train
