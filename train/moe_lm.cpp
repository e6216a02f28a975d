#include "moegrad/train/moe_lm.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/nn/loss.h"

namespace moegrad::train {

MoELMBlock::MoELMBlock(const ModelConfig& m, Generator& gen, DType dtype) {
  register_module("attn_norm", attn_norm, std::make_shared<nn::RMSNorm>(m.dim, dtype));
  register_module("attn", attn, std::make_shared<nn::CausalSelfAttention>(m.dim, m.heads, gen, dtype));
  register_module("moe", moe, std::make_shared<moe::SparseMoEBlock>(m.block(), gen, dtype));
}

moe::MoEOutput MoELMBlock::forward(const Tensor& x, const moe::GatingCall& call) {
  Tensor h = attn->forward(attn_norm->forward(x)) + x;
  return moe->forward(h, call);  // SparseMoEBlock adds its own residual
}

MoELM::MoELM(const Config& c, int64_t vocab, Generator& gen, DType dtype)
    : context_(c.model.context) {
  MOEGRAD_CHECK(vocab >= 1, "MoELM: the vocabulary is empty");
  register_module("tok_emb", tok_emb, std::make_shared<nn::Embedding>(vocab, c.model.dim, gen, dtype));
  register_module("pos_emb", pos_emb, std::make_shared<nn::Embedding>(c.model.context, c.model.dim, gen, dtype));
  register_module("blocks", blocks, std::make_shared<nn::ModuleList<MoELMBlock>>());
  for (int64_t i = 0; i < c.model.depth; ++i) blocks->push_back(std::make_shared<MoELMBlock>(c.model, gen, dtype));
  register_module("norm", norm, std::make_shared<nn::RMSNorm>(c.model.dim, dtype));
  register_module("head", head, std::make_shared<nn::Linear>(c.model.dim, vocab, false, gen, dtype));
}

ModelOutput MoELM::logits(const Tensor& tokens, const moe::GatingCall& call) {
  MOEGRAD_CHECK(tokens.dim() == 2 && tokens.size(1) <= context_, "MoELM: tokens of shape ", tokens.shape(),
                " must be (batch, n) with n <= context=", context_);
  const int64_t n = tokens.size(1);
  ModelOutput out;
  Tensor h = tok_emb->forward(tokens) + pos_emb->forward(arange(0.0, static_cast<double>(n), 1.0, DType::i64, tokens.backend()));
  for (auto& block : *blocks) {
    moe::MoEOutput m = block->forward(h, call);
    h = m.outputs;
    out.aux_loss = out.aux_loss.defined() ? out.aux_loss + sum(m.total_aux_loss) : sum(m.total_aux_loss);
    out.layers.push_back({m.routing, m.balance_loss, m.router_z_loss, m.trace});
  }
  out.prediction = head->forward(norm->forward(h));
  return out;
}

ModelOutput MoELM::forward(const Batch& batch, const moe::GatingCall& call) {
  ModelOutput out = logits(batch.inputs, call);
  out.main_loss = nn::cross_entropy(out.prediction, batch.targets);
  return out;
}

int64_t MoELM::active_parameters() const {
  double idle = 0;
  for (auto& block : *blocks) idle += moe::idle_expert_parameter_count(block->moe->moe->options);
  return num_parameters() - static_cast<int64_t>(idle);
}

}  // namespace moegrad::train
