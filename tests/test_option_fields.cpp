// The options structs' field declarations (core/option_fields.h, moe/option_fields.cpp):
// each field reads and writes its own member, range checks name the field, and the
// trainer's model keys are those fields under the same names.
#include <catch2/catch.hpp>

#include <set>

#include "moegrad/moe/moe.h"
#include "moegrad/train/config_schema.h"

using namespace moegrad;

namespace {

// Sets each field of a default S to a value other than its default, one at a time, and
// checks that the field's getter sees it and no other field changed.
template <typename S>
void check_fields_are_independent(const OptionFields<S>& fields) {
  std::set<std::string> names;
  for (const OptionField<S>& f : fields) {
    INFO(f.name);
    CHECK(names.insert(f.name).second);  // one declaration per name
    CHECK_FALSE(f.doc.empty());
    S s;
    std::visit(
        [&](const auto& t) {
          using T = std::decay_t<decltype(t)>;
          if constexpr (std::is_same_v<T, IntField<S>>) {
            t.set(s, t.get(s) + 7);
            CHECK(t.get(s) == t.get(S{}) + 7);
          } else if constexpr (std::is_same_v<T, RealField<S>>) {
            t.set(s, t.get(s) + 0.5);
            CHECK(t.get(s) == t.get(S{}) + 0.5);
          } else if constexpr (std::is_same_v<T, BoolField<S>>) {
            t.set(s, !t.get(s));
            CHECK(t.get(s) != t.get(S{}));
          } else if constexpr (std::is_same_v<T, TextField<S>>) {
            t.set(s, "other");
            CHECK(t.get(s) == "other");
          } else if constexpr (std::is_same_v<T, ChoiceField<S>>) {
            REQUIRE(t.names.size() >= 2);
            const std::string other = t.get(s) == t.names[0] ? t.names[1] : t.names[0];
            t.set(s, other);
            CHECK(t.get(s) == other);
          } else {
            t.set(s, NumberOrList{std::vector<double>{0.25}});
            CHECK(t.get(s) == NumberOrList{std::vector<double>{0.25}});
          }
        },
        f.type);
    // No other field moved.
    for (const OptionField<S>& g : fields) {
      if (g.name == f.name) continue;
      INFO("and " << g.name);
      std::visit([&](const auto& t) { CHECK(t.get(s) == t.get(S{})); }, g.type);
    }
  }
}

std::string range_error(const moe::TopNGatingOptions& o) {
  try {
    check_field_ranges(moe::TopNGatingOptions::fields(), o);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("each options field reads and writes its own member", "[moe][options]") {
  check_fields_are_independent(moe::TopNGatingOptions::fields());
  check_fields_are_independent(moe::MoEOptions::fields());
  check_fields_are_independent(moe::SparseMoEBlockOptions::fields());
  check_fields_are_independent(moe::ExpertOptions::fields());
  check_fields_are_independent(moe::MoERouterOptions::fields());
}

TEST_CASE("field range checks name the field and its range", "[moe][options]") {
  moe::TopNGatingOptions o{.dim = 4, .num_gates = 2};
  CHECK(range_error(o).empty());
  o.threshold_train = std::vector<double>{0.1, -2};
  CHECK(range_error(o) == "threshold_train[1]: must be a finite number >= 0, got -2");
  o.threshold_train = std::numeric_limits<double>::infinity();
  CHECK(range_error(o) == "threshold_train: must be a finite number >= 0, got inf");
  o.threshold_train = 0.2;
  o.min_expert_capacity = 0;
  CHECK(range_error(o) == "min_expert_capacity: must be an integer >= 1, got 0");
  o.min_expert_capacity = 4;
  o.eps = std::nan("");
  CHECK(range_error(o) == "eps: must be a finite number > 0, got nan");
}

TEST_CASE("nested fields read and write the inner struct", "[moe][options]") {
  const auto& block = moe::SparseMoEBlockOptions::fields();
  moe::SparseMoEBlockOptions b;
  std::get<IntField<moe::SparseMoEBlockOptions>>(find_field(block, "num_experts").type).set(b, 5);
  CHECK(b.moe.num_experts == 5);
  CHECK(find_field(block, "top_n").reference_name == "gating_top_n");
  CHECK(find_field(block, "num_experts").doc == find_field(moe::MoEOptions::fields(), "num_experts").doc);
}

TEST_CASE("the trainer's model keys are the MoE block's fields, docs and all", "[moe][options][config]") {
  const train::ConfigSection schema = train::config_schema();
  const train::ConfigSection* model = nullptr;
  for (const auto& s : schema.sections)
    if (s.name == "model") model = &s;
  REQUIRE(model);
  int found = 0;
  for (const auto& f : moe::SparseMoEBlockOptions::fields()) {
    INFO(f.name);
    if (f.name == "dim") continue;  // model.dim, the whole model's width, is the trainer's own key
    for (const train::ConfigKey& k : model->keys)
      if (k.name == f.name) {
        CHECK(k.doc == f.doc);
        ++found;
      }
  }
  // All but dim and differentiable_topk_fused (no fused kernel to choose).
  CHECK(found == static_cast<int>(moe::SparseMoEBlockOptions::fields().size()) - 2);
  // Setting a key sets the block's member.
  train::Config c;
  for (const train::ConfigKey& k : model->keys)
    if (k.name == "capacity_factor_eval") std::get<train::RealKey>(k.type).set(c, 3.5);
  CHECK(c.model.moe_block.moe.capacity_factor_eval == 3.5);
}
