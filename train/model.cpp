#include "moegrad/train/model.h"

#include "moegrad/train/mlp_models.h"
#include "moegrad/train/moe_lm.h"

namespace moegrad::train {

namespace {
std::unique_ptr<TrainModel> make_on_host(const Config& c, int64_t vocab, Generator& gen, DType dtype) {
  switch (c.model.kind) {
    case ModelKind::mlp_moe: return std::make_unique<MlpMoE>(c, gen, dtype);
    case ModelKind::mlp_dense: return std::make_unique<MlpDense>(c, gen, dtype);
    case ModelKind::moe_lm: return std::make_unique<MoELM>(c, vocab, gen, dtype);
  }
  throw Error("unknown model kind");
}
}  // namespace

std::unique_ptr<TrainModel> make_model(const Config& c, int64_t vocab, Generator& gen, DType dtype) {
  // Built where the generator draws, then moved: the same weights on every device.
  std::unique_ptr<TrainModel> model = make_on_host(c, vocab, gen, dtype);
  model->to(Device::parse(c.device));
  return model;
}

}  // namespace moegrad::train
