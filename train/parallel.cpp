#include "moegrad/train/parallel.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <unordered_set>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"
#include "moegrad/dist/make_communicator.h"
#include "moegrad/moe/expert.h"
#include "moegrad/nn/optim/clip_grad.h"
#include "moegrad/nn/safetensors.h"
#include "moegrad/train/checkpoint.h"

namespace moegrad::train {

namespace {

// Replicated gradients are all-reduced in buckets of this many elements: large enough that
// a small model is one exchange, fixed so that the summation order never depends on timing.
constexpr int64_t kBucketElements = int64_t{1} << 22;

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

// Bytes as an int64 tensor (zero-padded to whole words), to travel through a communicator.
Tensor bytes_tensor(const std::string& bytes) {
  std::vector<int64_t> words((bytes.size() + 7) / 8, 0);
  if (!bytes.empty()) std::memcpy(words.data(), bytes.data(), bytes.size());
  return from_vector(words, {static_cast<int64_t>(words.size())}, DType::i64);
}
// `length` bytes from word `begin` of an int64 tensor: bytes_tensor's inverse.
std::string tensor_bytes(const Tensor& words, int64_t begin, size_t length) {
  std::string out(length, '\0');
  if (length) std::memcpy(out.data(), words.data_ptr<int64_t>() + begin, length);
  return out;
}

std::unique_ptr<dist::TimedCommunicator> timed_world() {
  return std::make_unique<dist::TimedCommunicator>(dist::make_communicator());
}
}  // namespace

ParallelRun::ParallelRun() {
  auto w = timed_world();
  timed_ = w.get();
  world_ = std::move(w);
}

ParallelRun::ParallelRun(const Config& cfg, const std::string& location)
    : ParallelRun(cfg.parallel.expert, cfg.train.batch_size, location, "parallel.expert", "train.batch_size") {}

ParallelRun::ParallelRun(int64_t expert, int64_t examples, const std::string& location, const std::string& expert_key,
                         const std::string& batch_key)
    : ParallelRun() {
  const int64_t w = world_->size(), k = expert;
  if (k < 1 || w % k != 0)
    throw ConfigFileError(location, expert_key,
                          "must divide the number of ranks (" + std::to_string(w) + "), got " + std::to_string(k));
  if (examples % w != 0)
    throw ConfigFileError(location, batch_key,
                          "must be a multiple of the number of ranks (" + std::to_string(w) + ") to split evenly, got " +
                              std::to_string(examples));
  expert_size_ = k;
  // Expert groups are blocks of K consecutive ranks; replicas hold the same place in theirs.
  expert_group_ = world_->split(static_cast<int>(rank() / k), rank());
  replicas_ = world_->split(static_cast<int>(rank() % k), rank());
}

ParallelRun::~ParallelRun() = default;

void ParallelRun::place_experts(nn::Module& model) {
  std::function<void(nn::Module&, const std::string&)> walk = [&](nn::Module& m, const std::string& path) {
    if (auto* experts = dynamic_cast<moe::Experts*>(&m)) {
      expert_prefixes_.push_back(path + ".");
      if (expert_size_ > 1) experts->keep_part(*expert_group_);
      return;
    }
    for (const auto& [name, child] : m.named_children()) walk(*child, path.empty() ? name : path + "." + name);
  };
  walk(model, "");
}

bool ParallelRun::is_expert(const std::string& name) const {
  return std::any_of(expert_prefixes_.begin(), expert_prefixes_.end(),
                     [&](const std::string& p) { return starts_with(name, p); });
}

Batch ParallelRun::own_part(const Batch& whole) const {
  if (!distributed()) return whole;
  Batch b = whole;
  const int64_t part = whole.inputs.size(whole.example_axis) / size();
  b.inputs = core::contiguous(core::narrow(whole.inputs, whole.example_axis, rank() * part, part));
  b.targets = core::contiguous(core::narrow(whole.targets, whole.example_axis, rank() * part, part));
  return b;
}

moe::GatingCall ParallelRun::split_call(moe::GatingCall call, const Batch& batch) {
  if (!distributed()) return call;
  call.data_group = world_.get();
  call.data_axis = batch.example_axis;
  return call;
}

void ParallelRun::reduce_gradients(const nn::NamedTensors& params) {
  if (!distributed()) return;
  NoGradGuard no_grad;
  const double scale = 1.0 / static_cast<double>(size());
  // Sums `grads` over `group` and divides by W, in buckets: consecutive gradients of one
  // dtype, closed once they reach kBucketElements, so the layout never depends on timing.
  auto reduce = [&](const std::vector<Tensor>& grads, dist::Communicator& group) {
    std::vector<Tensor> bucket;
    int64_t filled = 0;
    auto flush = [&] {
      if (bucket.empty()) return;
      TensorList flat;
      for (const Tensor& g : bucket) flat.push_back(core::reshape(core::contiguous(g), {g.numel()}));
      Tensor all = core::cat(flat, 0);
      if (group.size() > 1) group.all_reduce_(all);
      core::binary_(BinaryOp::mul, all, core::scalar_like(scale, all));
      int64_t at = 0;
      for (const Tensor& g : bucket) {
        core::copy_(g, core::reshape(core::narrow(all, 0, at, g.numel()), g.shape()));
        at += g.numel();
      }
      bucket.clear();
      filled = 0;
    };
    for (const Tensor& g : grads) {
      if (!bucket.empty() && (bucket.front().dtype() != g.dtype() || filled + g.numel() > kBucketElements)) flush();
      bucket.push_back(g);
      filled += g.numel();
    }
    flush();
  };
  // Zeros where a rank has no gradient, so that every rank sends the same layout.
  std::vector<Tensor> replicated, experts;
  for (const auto& [name, p] : params) {
    Tensor g = grad(p);
    if (!g.defined()) {
      g = zeros(p.shape(), p.dtype(), p.backend());
      set_grad(p, g);
    }
    (is_expert(name) ? experts : replicated).push_back(g);
  }
  reduce(replicated, *world_);
  // Expert gradients: over the ranks holding the same experts (none besides this one when
  // K = W), divided by W all the same.
  reduce(experts, *replicas_);
}

double ParallelRun::clip_gradients(const nn::NamedTensors& params, double max_norm) {
  NoGradGuard no_grad;
  // Squares summed in double: the replicated ones are equal on every rank, so counted once;
  // the experts' are summed over the expert group, which holds each expert once.
  auto squares = [&](bool experts) {
    Tensor sq = zeros({1}, DType::f64);
    for (const auto& [name, p] : params) {
      const Tensor g = grad(p);
      if (!g.defined() || is_expert(name) != experts) continue;
      sq = core::binary(BinaryOp::add, sq,
                        core::to(core::to(core::reshape(core::sum(core::binary(BinaryOp::mul, g, g)), {1}), DType::f64),
                                 Device::cpu()));
    }
    return sq;
  };
  Tensor experts = squares(true);
  if (expert_group_ && expert_group_->size() > 1) expert_group_->all_reduce_(experts);
  const double total = std::sqrt(core::binary(BinaryOp::add, squares(false), experts).item<double>());
  TensorList grads;
  for (const auto& [name, p] : params)
    if (grad(p).defined()) grads.push_back(p);
  nn::scale_gradients_to_norm_(grads, total, max_norm);
  return total;
}

bool ParallelRun::any(bool here) {
  if (!distributed()) return here;
  Tensor flag = from_vector(std::vector<double>{here ? 1.0 : 0.0}, {1}, DType::f64);
  world_->all_reduce_(flag);
  return flag.item<double>() > 0;
}

std::optional<std::string> ParallelRun::agreed_problem(const std::string& here, const std::string& elsewhere) {
  if (!any(!here.empty())) return std::nullopt;
  return here.empty() ? elsewhere : here;
}

double ParallelRun::mean(double here) {
  if (!distributed()) return here;
  Tensor v = from_vector(std::vector<double>{here}, {1}, DType::f64);
  world_->all_reduce_(v);
  return v.item<double>() / static_cast<double>(size());
}

void ParallelRun::check_replicas(const nn::NamedTensors& params, const std::string& when) {
  if (!distributed()) return;
  // Replicated parameters against the world, experts against their replicas.
  for (const bool experts : {false, true}) {
    dist::Communicator& group = experts ? *replicas_ : *world_;
    std::vector<int64_t> hashes;
    std::vector<std::string> names;
    for (const auto& [name, p] : params) {
      if (is_expert(name) != experts) continue;
      hashes.push_back(std::bit_cast<int64_t>(tensor_digest(p)));
      names.push_back(name);
    }
    if (group.size() < 2 || hashes.empty()) continue;
    const auto n = static_cast<int64_t>(hashes.size());
    const std::vector<int64_t> all = group.all_gather(from_vector(hashes, {n}, DType::i64)).to_vector<int64_t>();
    for (int r = 1; r < group.size(); ++r)
      for (int64_t i = 0; i < n; ++i)
        if (all[r * n + i] != all[i])
          throw Error(when + ": parameter '" + names[i] + "' differs between ranks that should hold the same copy "
                      "(rank " + std::to_string(rank()) + "'s group member " + std::to_string(r) + "); the ranks have diverged");
  }
}

std::string ParallelRun::broadcast(const std::string& from_leader) {
  if (!distributed()) return from_leader;
  Tensor length = from_vector(std::vector<int64_t>{static_cast<int64_t>(from_leader.size())}, {1}, DType::i64);
  world_->broadcast_(length, 0);
  const auto n = static_cast<size_t>(length.item<int64_t>());
  Tensor words = leader() ? bytes_tensor(from_leader) : zeros({static_cast<int64_t>((n + 7) / 8)}, DType::i64);
  world_->broadcast_(words, 0);
  return tensor_bytes(words, 0, n);
}

nn::StateDict ParallelRun::gather(const nn::StateDict& own) {
  if (!distributed() || expert_size_ == 1) return own;
  // Each rank's expert entries as one safetensors blob; rank 0's expert group (ranks
  // 0..K-1) holds every expert once. Every group exchanges alike; only rank 0 keeps it.
  nn::StateDict mine;
  for (const auto& [key, t] : own)
    if (is_expert(key)) mine.set(key, t);
  const std::string blob = nn::serialize_safetensors(mine);
  const Tensor words = bytes_tensor(blob);
  const int k = expert_group_->size();
  const std::vector<int64_t> lengths =
      expert_group_->all_gather(from_vector(std::vector<int64_t>{static_cast<int64_t>(blob.size())}, {1}, DType::i64))
          .to_vector<int64_t>();
  std::vector<int64_t> counts(k);
  for (int r = 0; r < k; ++r) counts[r] = (lengths[r] + 7) / 8;
  const Tensor all = expert_group_->all_gather_v(words, counts);
  if (!leader()) return own;
  std::vector<nn::StateDict> parts;
  int64_t at = 0;
  for (int r = 0; r < k; ++r) {
    parts.push_back(nn::parse_safetensors(tensor_bytes(all, at, static_cast<size_t>(lengths[r])),
                                          "rank " + std::to_string(r) + "'s experts")
                        .tensors);
    at += counts[r];
  }
  // One process's order: rank 0's, with every rank's experts of a layer where that
  // layer's first expert entry stands.
  nn::StateDict whole;
  std::vector<std::string> placed;
  for (const auto& [key, t] : own) {
    auto prefix = std::find_if(expert_prefixes_.begin(), expert_prefixes_.end(),
                               [&](const std::string& p) { return starts_with(key, p); });
    if (prefix == expert_prefixes_.end()) {
      whole.set(key, t);
      continue;
    }
    if (std::find(placed.begin(), placed.end(), *prefix) != placed.end()) continue;
    placed.push_back(*prefix);
    for (const nn::StateDict& part : parts)
      for (const auto& [k2, t2] : part)
        if (starts_with(k2, *prefix)) whole.set(k2, t2);
  }
  return whole;
}

nn::StateDict ParallelRun::held_part(const nn::StateDict& whole, const nn::NamedTensors& held) {
  std::unordered_set<std::string> names;
  for (const auto& [name, p] : held) names.insert(name);
  nn::StateDict part;
  for (const auto& [key, t] : whole) {
    // A parameter's own entry, or its optimizer state "<param>.<what>" (no dot in <what>).
    const size_t dot = key.rfind('.');
    if (names.count(key) || (dot != std::string::npos && names.count(key.substr(0, dot)))) part.set(key, t);
  }
  return part;
}

}  // namespace moegrad::train
