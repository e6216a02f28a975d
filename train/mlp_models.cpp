#include "moegrad/train/mlp_models.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/nn/loss.h"

namespace moegrad::train {

MlpMoE::MlpMoE(const Config& c, Generator& gen, DType dtype) {
  register_module("in_proj", in_proj, std::make_shared<nn::Linear>(c.data.input_dim, c.model.dim, true, gen, dtype));
  register_module("blocks", blocks, std::make_shared<nn::ModuleList<moe::SparseMoEBlock>>());
  for (int64_t i = 0; i < c.model.depth; ++i)
    blocks->push_back(std::make_shared<moe::SparseMoEBlock>(c.model.block(), gen, dtype));
  register_module("norm", norm, std::make_shared<nn::RMSNorm>(c.model.dim, dtype));
  register_module("head", head, std::make_shared<nn::Linear>(c.model.dim, c.data.output_dim, true, gen, dtype));
}

ModelOutput MlpMoE::forward(const Batch& batch, const moe::GatingCall& call) {
  ModelOutput out;
  Tensor h = in_proj->forward(batch.inputs);
  for (auto& block : *blocks) {
    moe::MoEOutput m = block->forward(h, call);
    h = m.outputs;
    out.aux_loss = out.aux_loss.defined() ? out.aux_loss + sum(m.total_aux_loss) : sum(m.total_aux_loss);
    out.layers.push_back({m.routing, m.balance_loss, m.router_z_loss, m.trace});
  }
  out.prediction = head->forward(norm->forward(h));
  out.main_loss = nn::mse_loss(out.prediction, batch.targets);
  return out;
}

int64_t MlpMoE::active_parameters() const {
  double idle = 0;
  for (auto& block : *blocks) idle += moe::idle_expert_parameter_count(block->moe->options);
  return num_parameters() - static_cast<int64_t>(idle);
}

MlpDense::MlpDense(const Config& c, Generator& gen, DType dtype) {
  register_module("in_proj", in_proj, std::make_shared<nn::Linear>(c.data.input_dim, c.model.dim, true, gen, dtype));
  register_module("blocks", blocks, std::make_shared<nn::ModuleList<moe::Expert>>());
  const moe::ExpertOptions ff = c.model.dense_feedforward();
  for (int64_t i = 0; i < c.model.depth; ++i) blocks->push_back(std::make_shared<moe::Expert>(ff, gen, dtype));
  register_module("norm", norm, std::make_shared<nn::RMSNorm>(c.model.dim, dtype));
  register_module("head", head, std::make_shared<nn::Linear>(c.model.dim, c.data.output_dim, true, gen, dtype));
}

ModelOutput MlpDense::forward(const Batch& batch, const moe::GatingCall&) {
  ModelOutput out;
  Tensor h = in_proj->forward(batch.inputs);
  for (auto& block : *blocks) h = block->forward(h) + h;
  out.prediction = head->forward(norm->forward(h));
  out.main_loss = nn::mse_loss(out.prediction, batch.targets);
  return out;
}

}  // namespace moegrad::train
