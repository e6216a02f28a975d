#include "moegrad/train/cluster_task.h"

#include <cmath>

#include "moegrad/autograd/autograd.h"
#include "moegrad/core/core.h"

namespace moegrad::train {

namespace {
// Centres are spread wider than the clusters so that they are separable.
constexpr double kCentreSpread = 2.0;
}  // namespace

ClusterTask::ClusterTask(const DataConfig& cfg, uint64_t seed, DType dtype) : cfg_(cfg) {
  NoGradGuard no_grad;
  // The data has its own stream, so changing the model does not change the data.
  Generator gen(seed ^ 0x636c7573746572ULL);
  const int64_t k = cfg.num_clusters, din = cfg.input_dim, dout = cfg.output_dim;
  Tensor centres = randn({k, din}, gen, DType::f64) * kCentreSpread;
  Tensor w1 = randn({k, din, kTargetHidden}, gen, DType::f64) / std::sqrt(double(din));
  Tensor w2 = randn({k, kTargetHidden, dout}, gen, DType::f64) / std::sqrt(double(kTargetHidden));
  auto make = [&](int64_t n, Tensor& x, Tensor& y, Tensor& labels) {
    std::vector<int64_t> lab(n);
    for (auto& l : lab) l = static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(k));
    labels = from_vector(lab);
    Tensor xs = index_select(centres, 0, labels) + randn({n, din}, gen, DType::f64) * cfg.cluster_std;
    // y_i = tanh(x_i W1_{c_i}) W2_{c_i}, batched over samples.
    Tensor h = tanh(squeeze(matmul(unsqueeze(xs, 1), index_select(w1, 0, labels)), 1));
    Tensor ys = squeeze(matmul(unsqueeze(h, 1), index_select(w2, 0, labels)), 1);
    x = to(xs, dtype);
    y = to(ys, dtype);
  };
  make(cfg.train_size, train_x_, train_y_, train_labels_);
  make(cfg.eval_size, eval_x_, eval_y_, eval_labels_);
}

Batch ClusterTask::rows(const Tensor& x, const Tensor& y, const Tensor& labels, const Tensor& index) const {
  Batch b;
  const int64_t n = index.numel();
  // One group of n tokens: the MoE's capacity is shared across the whole batch.
  // The task drew the rows itself, in range.
  b.inputs = core::reshape(core::index_select(x, 0, index, IndexCheck::trusted), {1, n, cfg_.input_dim});
  b.targets = core::reshape(core::index_select(y, 0, index, IndexCheck::trusted), {1, n, cfg_.output_dim});
  b.labels = core::index_select(labels, 0, index, IndexCheck::trusted);
  b.tokens = n;
  b.example_axis = 1;
  return b;
}

Batch ClusterTask::host_train_batch(int64_t batch_size, Generator& gen) const {
  std::vector<int64_t> idx(batch_size);
  for (auto& i : idx) i = static_cast<int64_t>(gen.next_u64() % static_cast<uint64_t>(cfg_.train_size));
  return rows(train_x_, train_y_, train_labels_, from_vector(idx));
}

Batch ClusterTask::host_eval_batch(int64_t i, int64_t batch_size) const {
  std::vector<int64_t> idx(batch_size);
  for (int64_t j = 0; j < batch_size; ++j) idx[j] = (i * batch_size + j) % cfg_.eval_size;
  return rows(eval_x_, eval_y_, eval_labels_, from_vector(idx));
}

double specialisation(const std::vector<int64_t>& labels, const std::vector<int64_t>& experts,
                      int64_t num_labels, int64_t num_experts) {
  MOEGRAD_CHECK(labels.size() == experts.size(), "specialisation: ", labels.size(), " labels but ",
                experts.size(), " expert assignments");
  // Tokens no expert took (expert choice: -1) are left out.
  size_t assigned = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    MOEGRAD_CHECK(labels[i] >= 0 && labels[i] < num_labels && experts[i] >= -1 && experts[i] < num_experts,
                  "specialisation: label ", labels[i], " or expert ", experts[i], " out of range");
    assigned += experts[i] >= 0;
  }
  if (assigned == 0 || num_labels < 2) return 0.0;
  std::vector<double> joint(num_labels * num_experts, 0.0), pc(num_labels, 0.0), pe(num_experts, 0.0);
  const double n = static_cast<double>(assigned);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (experts[i] < 0) continue;
    joint[labels[i] * num_experts + experts[i]] += 1.0 / n;
    pc[labels[i]] += 1.0 / n;
    pe[experts[i]] += 1.0 / n;
  }
  double mi = 0.0, hc = 0.0;
  for (int64_t c = 0; c < num_labels; ++c) {
    if (pc[c] > 0) hc -= pc[c] * std::log(pc[c]);
    for (int64_t e = 0; e < num_experts; ++e) {
      const double p = joint[c * num_experts + e];
      if (p > 0) mi += p * std::log(p / (pc[c] * pe[e]));
    }
  }
  return hc > 0 ? mi / hc : 0.0;
}

}  // namespace moegrad::train
