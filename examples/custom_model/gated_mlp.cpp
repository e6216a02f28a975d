#include "gated_mlp.h"

#include "moegrad/autograd/autograd.h"
#include "moegrad/nn/activation.h"
#include "moegrad/nn/container.h"
#include "moegrad/nn/linear.h"
#include "moegrad/nn/loss.h"
#include "moegrad/nn/normalization.h"

namespace custom {

using namespace moegrad;
using train::Config;

namespace {

class GatedBlock : public nn::Module {
 public:
  GatedBlock(int64_t dim, int64_t hidden, double gate_init, Generator& gen, DType dt) {
    register_module("up", up, std::make_shared<nn::Linear>(dim, hidden, true, gen, dt));
    register_module("down", down, std::make_shared<nn::Linear>(hidden, dim, true, gen, dt));
    gate = full({1}, gate_init, dt);
    register_parameter("gate", gate);
  }
  std::string type_name() const override { return "GatedBlock"; }
  Tensor forward(const Tensor& x) { return x + sigmoid(gate) * down->forward(relu(up->forward(x))); }

  std::shared_ptr<nn::Linear> up, down;
  Tensor gate;
};

class GatedMlp : public train::TrainModel {
 public:
  GatedMlp(const Config& c, Generator& gen, DType dt) {
    const int64_t dim = c.model.dim, hidden = train::model_int(c, "hidden");
    register_module("in_proj", in_proj, std::make_shared<nn::Linear>(c.data.input_dim, dim, true, gen, dt));
    register_module("blocks", blocks, std::make_shared<nn::ModuleList<GatedBlock>>());
    for (int64_t i = 0; i < c.model.depth; ++i)
      blocks->push_back(std::make_shared<GatedBlock>(dim, hidden, train::model_real(c, "gate_init"), gen, dt));
    register_module("norm", norm, std::make_shared<nn::RMSNorm>(dim, dt));
    register_module("head", head, std::make_shared<nn::Linear>(dim, c.data.output_dim, true, gen, dt));
  }
  std::string type_name() const override { return "GatedMlp"; }
  train::ModelOutput forward(const train::Batch& batch, const moe::GatingCall&) override {
    Tensor h = in_proj->forward(batch.inputs);
    for (auto& block : *blocks) h = block->forward(h);
    train::ModelOutput out;
    out.prediction = head->forward(norm->forward(h));
    out.main_loss = nn::mse_loss(out.prediction, batch.targets);
    return out;
  }
  int64_t active_parameters() const override { return num_parameters(); }

  std::shared_ptr<nn::Linear> in_proj, head;
  std::shared_ptr<nn::ModuleList<GatedBlock>> blocks;
  std::shared_ptr<nn::RMSNorm> norm;
};

}  // namespace

train::ModelKindSpec gated_mlp_kind() {
  return {.name = "gated_mlp",
          .doc = "in_proj, `depth` gated residual blocks x + sigmoid(g) W2 relu(W1 x), RMSNorm, head, on `clusters`",
          .task = "clusters",
          .moe = false,
          .keys = {train::int_param("hidden", "`gated_mlp`: width of each block's hidden layer", {1, 4096}, 64),
                   train::real_param("gate_init", "`gated_mlp`: each block's gate before the sigmoid, at the start",
                                     {-10, false, 10}, 0.0)},
          .build = [](const Config& c, int64_t, Generator& gen, DType dt) -> std::unique_ptr<train::TrainModel> {
            return std::make_unique<GatedMlp>(c, gen, dt);
          },
          .parameter_count =
              [](const Config& c) {
                const double d = static_cast<double>(c.model.dim), h = static_cast<double>(train::model_int(c, "hidden"));
                const double in = static_cast<double>(c.data.input_dim), out = static_cast<double>(c.data.output_dim);
                return (in + 1) * d + static_cast<double>(c.model.depth) * (2 * d * h + h + d + 1) + d + (d + 1) * out;
              },
          .activation_count =
              [](const Config& c) {
                const double d = static_cast<double>(c.model.dim), h = static_cast<double>(train::model_int(c, "hidden"));
                return static_cast<double>(c.train.batch_size) * static_cast<double>(c.model.depth) * (2 * h + 3 * d);
              },
          .validate = nullptr,
          .size_keys = {"hidden"}};
}

}  // namespace custom
