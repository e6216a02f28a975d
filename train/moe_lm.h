#pragma once
// `moe_lm`: a character-level transformer whose feedforwards are SparseMoEBlocks:
// tok_emb + pos_emb -> depth x [x += attn(attn_norm(x)); x = SparseMoEBlock(x)] -> norm -> head.
#include "moegrad/nn/attention.h"
#include "moegrad/nn/container.h"
#include "moegrad/nn/embedding.h"
#include "moegrad/nn/linear.h"
#include "moegrad/nn/normalization.h"
#include "moegrad/train/model.h"

namespace moegrad::train {

class MoELMBlock : public nn::Module {
 public:
  MoELMBlock(const ModelConfig& m, Generator& gen, DType dtype);
  std::string type_name() const override { return "MoELMBlock"; }
  moe::MoEOutput forward(const Tensor& x, const moe::GatingCall& call);

  std::shared_ptr<nn::RMSNorm> attn_norm;
  std::shared_ptr<nn::CausalSelfAttention> attn;
  std::shared_ptr<moe::SparseMoEBlock> moe;
};

class MoELM : public TrainModel {
 public:
  MoELM(const Config& c, int64_t vocab, Generator& gen, DType dtype);
  std::string type_name() const override { return "MoELM"; }
  ModelOutput forward(const Batch& batch, const moe::GatingCall& call) override;
  // Logits (b, n, vocab) for int64 tokens (b, n), n <= context.
  ModelOutput logits(const Tensor& tokens, const moe::GatingCall& call);
  int64_t active_parameters() const override;
  int64_t context() const { return context_; }

  std::shared_ptr<nn::Embedding> tok_emb, pos_emb;
  std::shared_ptr<nn::ModuleList<MoELMBlock>> blocks;
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<nn::Linear> head;

 private:
  int64_t context_;
};

}  // namespace moegrad::train
