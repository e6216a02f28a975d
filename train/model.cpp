#include "train/model.h"

#include "train/mlp_models.h"
#include "train/moe_lm.h"

namespace moegrad::train {

std::unique_ptr<TrainModel> make_model(const Config& c, int64_t vocab, Generator& gen, DType dtype) {
  switch (c.model.kind) {
    case ModelKind::mlp_moe: return std::make_unique<MlpMoE>(c, gen, dtype);
    case ModelKind::mlp_dense: return std::make_unique<MlpDense>(c, gen, dtype);
    case ModelKind::moe_lm: return std::make_unique<MoELM>(c, vocab, gen, dtype);
  }
  throw Error("unknown model kind");
}

}  // namespace moegrad::train
