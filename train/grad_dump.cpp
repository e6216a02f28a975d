#include "moegrad/train/grad_dump.h"

#include <charconv>
#include <cstdio>
#include <filesystem>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/nn/safetensors.h"
#include "moegrad/train/checkpoint.h"

namespace moegrad::train {

namespace {

// The intermediates of layer i under their names: those with a gradient to dump.
std::vector<std::pair<std::string, Tensor>> intermediates(const LayerRouting& l) {
  std::vector<std::pair<std::string, Tensor>> out = {
      {"gate_logits", l.routing.logits},
      {"scores", l.routing.raw_gates},
      {"gates", l.routing.gates},
      {"dispatch_weights", l.trace.dispatch_weights},
  };
  // One (e, b, c, d) tensor on the dense path, one per expert on the indexed path.
  auto add = [&](const std::string& name, const TensorList& list) {
    if (list.size() == 1) out.emplace_back(name, list[0]);
    else
      for (size_t e = 0; e < list.size(); ++e) out.emplace_back(name + "." + std::to_string(e), list[e]);
  };
  add("expert_inputs", l.trace.expert_inputs);
  add("expert_outputs", l.trace.expert_outputs);
  return out;
}

Tensor on_host(const Tensor& t) { return core::contiguous(core::to(detach(t), Device::cpu())); }

}  // namespace

std::set<int64_t> parse_dump_steps(const std::string& text) {
  std::set<int64_t> steps;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    const std::string part = text.substr(start, end - start);
    int64_t v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || p != part.data() + part.size() || v < 1)
      throw ConfigError("--dump-grads", "expected steps like 1,10,100 (each >= 1), got '" + part + "' in '" + text + "'");
    steps.insert(v);
    start = end + 1;
  }
  return steps;
}

void retain_dumped(const ModelOutput& out) {
  for (const LayerRouting& l : out.layers)
    for (const auto& [name, t] : intermediates(l))
      if (t.defined() && requires_grad(t)) retain_grad(t);
}

std::string write_grad_dump(const GradDump& dump, int64_t step, const Batch& batch, const ModelOutput& out,
                            const nn::Module& model, const std::string& config_yaml) {
  nn::StateDict f;
  f.set("input/x", on_host(batch.inputs));
  f.set("input/target", on_host(batch.targets));
  f.set("output/main_loss", on_host(core::reshape(out.main_loss, {1})));
  if (out.aux_loss.defined()) f.set("output/aux_loss", on_host(core::reshape(out.aux_loss, {1})));
  for (const auto& [name, p] : model.named_parameters()) {
    f.set("param/" + name, on_host(p));
    const Tensor g = grad(p);
    if (g.defined()) f.set("grad/param/" + name, on_host(g));
  }
  for (size_t i = 0; i < out.layers.size(); ++i) {
    const LayerRouting& l = out.layers[i];
    const std::string layer = "layers." + std::to_string(i) + ".";
    // The decision itself, so the other side can route alike.
    f.set("routing/" + layer + "indices", on_host(l.routing.indices));
    f.set("routing/" + layer + "routed", on_host(core::to(l.routing.routed, DType::i64)));
    f.set("routing/" + layer + "kept", on_host(core::to(l.routing.kept, DType::i64)));
    for (const auto& [name, t] : intermediates(l)) {
      if (!t.defined()) continue;
      f.set("intermediate/" + layer + name, on_host(t));
      if (!requires_grad(t)) continue;
      const Tensor g = grad(t);
      if (g.defined()) f.set("grad/intermediate/" + layer + name, on_host(g));
    }
  }
  std::filesystem::create_directories(dump.dir);
  char file[32];
  std::snprintf(file, sizeof file, "step_%08lld.safetensors", static_cast<long long>(step));
  const std::string path = (std::filesystem::path(dump.dir) / file).string();
  nn::save_safetensors(path, f,
                       {{"format", "moegrad-grad-dump/1"}, {"step", std::to_string(step)}, {kWeightsConfigKey, config_yaml}});
  return path;
}

}  // namespace moegrad::train
