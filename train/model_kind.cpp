#include "moegrad/train/model_kind.h"


#include "moegrad/core/registry.h"
#include "moegrad/moe/size_estimate.h"
#include "moegrad/train/mlp_models.h"
#include "moegrad/train/moe_lm.h"

namespace moegrad::train {

namespace {

constexpr double kByteVocab = 256;  // char_lm's vocabulary is at most the 256 bytes

// mlp_*: in_proj Linear(input_dim, dim), the final RMSNorm(dim), head Linear(dim, output_dim).
double mlp_frame(const Config& c) {
  const double dim = static_cast<double>(c.model.dim);
  return static_cast<double>(c.data.input_dim + c.data.output_dim + 2) * dim + static_cast<double>(c.data.output_dim);
}

// The MoE kinds: `depth` SparseMoEBlocks, each holding experts a token does not visit.
double depth_idle_experts(const Config& c) {
  return static_cast<double>(c.model.depth) * moe::idle_expert_parameter_count(c.model.block().moe);
}

// mlp_moe: the clusters task's batch is one row of batch_size tokens (ClusterTask::rows), so
// the whole batch is one routing group.
RoutingGroups one_group_per_batch(const Config& c) {
  return {.layers = c.model.depth, .groups = 1, .tokens = c.train.batch_size};
}

// moe_lm: each of the batch_size sequences of data.seq_len tokens is a group.
RoutingGroups one_group_per_sequence(const Config& c) {
  return {.layers = c.model.depth, .groups = c.train.batch_size, .tokens = c.data.seq_len};
}

double mlp_moe_parameters(const Config& c) {
  return mlp_frame(c) + static_cast<double>(c.model.depth) * moe::block_parameter_count(c.model.block());
}

double moe_lm_parameters(const Config& c) {
  const double dim = static_cast<double>(c.model.dim);
  return (2 * kByteVocab + static_cast<double>(c.model.context) + 1) * dim +
         static_cast<double>(c.model.depth) * (moe::block_parameter_count(c.model.block()) + 4 * dim * dim + dim);
}

ModelKindSpec mlp_moe_kind() {
  return {.name = "mlp_moe",
          .doc = "in_proj, `depth` SparseMoEBlocks, RMSNorm, head, on `clusters`",
          .task = "clusters",
          .moe = true,
          .keys = {},
          .build = [](const Config& c, int64_t, Generator& gen,
                      DType dt) -> std::unique_ptr<TrainModel> { return std::make_unique<MlpMoE>(c, gen, dt); },
          .parameter_count = mlp_moe_parameters,
          .activation_count =
              [](const Config& c) {
                const RoutingGroups g = one_group_per_batch(c);
                return static_cast<double>(c.model.depth) *
                       moe::block_activation_count(c.model.block(), static_cast<double>(g.groups),
                                                   static_cast<double>(g.tokens));
              },
          .validate = nullptr,
          .size_keys = {},
          .routing_groups = one_group_per_batch,
          .active_parameter_count = [](const Config& c) { return mlp_moe_parameters(c) - depth_idle_experts(c); }};
}

ModelKindSpec mlp_dense_kind() {
  return {.name = "mlp_dense",
          .doc = "in_proj, `depth` prenorm dense feedforwards of `expert_kind`, RMSNorm, head, on `clusters`",
          .task = "clusters",
          .moe = false,
          .keys = {},
          .build = [](const Config& c, int64_t, Generator& gen,
                      DType dt) -> std::unique_ptr<TrainModel> { return std::make_unique<MlpDense>(c, gen, dt); },
          .parameter_count =
              [](const Config& c) {
                return mlp_frame(c) +
                       static_cast<double>(c.model.depth) * moe::expert_parameter_count(c.model.dense_feedforward());
              },
          .activation_count =
              [](const Config& c) {
                return static_cast<double>(c.model.depth) *
                       moe::expert_activation_count(c.model.dense_feedforward(), static_cast<double>(c.train.batch_size));
              },
          .validate = [](const Config& c) -> std::optional<KeyProblem> {
            try {
              c.model.dense_feedforward().validate();
            } catch (const ConfigError& e) {
              return KeyProblem{"model." + (e.key() == "kind" ? std::string("expert_kind") : e.key()), e.message(), {}};
            }
            return std::nullopt;
          },
          .size_keys = {"hidden_mult"},
          .routing_groups = nullptr,
          .active_parameter_count = nullptr};
}

ModelKindSpec moe_lm_kind() {
  return {
      .name = "moe_lm",
      .doc = "token and position embeddings, `depth` blocks of causal self-attention and a SparseMoEBlock, RMSNorm, "
             "head, on `char_lm`",
      .task = "char_lm",
      .moe = true,
      .keys = {},
      .build = [](const Config& c, int64_t vocab, Generator& gen,
                  DType dt) -> std::unique_ptr<TrainModel> { return std::make_unique<MoELM>(c, vocab, gen, dt); },
      .parameter_count = moe_lm_parameters,
      .activation_count =
          [](const Config& c) {
            const RoutingGroups g = one_group_per_sequence(c);
            const double dim = static_cast<double>(c.model.dim), batch = static_cast<double>(g.groups);
            const double seq = static_cast<double>(g.tokens), heads = static_cast<double>(c.model.heads);
            return static_cast<double>(c.model.depth) * (moe::block_activation_count(c.model.block(), batch, seq) +
                                                         batch * seq * 8 * dim + 3 * batch * heads * seq * seq) +
                   batch * seq * kByteVocab * 2;
          },
      .validate = [](const Config& c) -> std::optional<KeyProblem> {
        const ModelConfig& m = c.model;
        if (!(m.heads >= 1 && m.dim % m.heads == 0))
          return KeyProblem{"model.heads",
                            "must divide model.dim=" + std::to_string(m.dim) + ", got " + std::to_string(m.heads),
                            {"model.dim"}};
        if (c.data.seq_len > m.context)
          return KeyProblem{"data.seq_len",
                            "must not exceed model.context=" + std::to_string(m.context) + ", got " +
                                std::to_string(c.data.seq_len),
                            {"model.context"}};
        return std::nullopt;
      },
      .size_keys = {"context"},
      .routing_groups = one_group_per_sequence,
      .active_parameter_count = [](const Config& c) { return moe_lm_parameters(c) - depth_idle_experts(c); }};
}

Registry<ModelKindSpec>& registry() {
  // Never destroyed: configs may be read while statics unwind.
  static auto* r = new Registry<ModelKindSpec>("model kind", {mlp_moe_kind(), mlp_dense_kind(), moe_lm_kind()});
  return *r;
}

// The key `name` that c's kind declares, of kind K.
}  // namespace

void register_model_kind(ModelKindSpec spec) {
  MOEGRAD_CHECK(!spec.name.empty() && spec.build && spec.parameter_count && spec.activation_count,
                "register_model_kind: '", spec.name, "' needs a name, build, parameter_count and activation_count");
  scope_keys(spec.keys, spec.name, [](const Config& c) { return c.model.kind; });
  registry().add(std::move(spec));
}

const ModelKindSpec& find_model_kind(const std::string& name) { return registry().find(name); }

std::vector<std::string> model_kind_names() { return registry().names(); }

double active_parameter_count(const Config& c) {
  const ModelKindSpec& kind = find_model_kind(c.model.kind);
  return kind.active_parameter_count ? kind.active_parameter_count(c) : kind.parameter_count(c);
}

int64_t model_int(const Config& c, const std::string& name) {
  return own_int(find_model_kind(c.model.kind).keys, c.model.kind, c, name);
}
double model_real(const Config& c, const std::string& name) {
  return own_real(find_model_kind(c.model.kind).keys, c.model.kind, c, name);
}
bool model_bool(const Config& c, const std::string& name) {
  return own_bool(find_model_kind(c.model.kind).keys, c.model.kind, c, name);
}

}  // namespace moegrad::train
