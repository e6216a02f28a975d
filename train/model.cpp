#include "moegrad/train/model.h"

#include "moegrad/train/model_kind.h"

namespace moegrad::train {

std::unique_ptr<TrainModel> make_model(const Config& c, int64_t vocab, Generator& gen, DType dtype) {
  // Built where the generator draws, then moved: the same weights on every device.
  std::unique_ptr<TrainModel> model = find_model_kind(c.model.kind).build(c, vocab, gen, dtype);
  model->to(Device::parse(c.device));
  return model;
}

}  // namespace moegrad::train
