#pragma once
// `clusters`: inputs from K Gaussian clusters, each cluster with its own random nonlinear
// target map y = tanh(x W1_k) W2_k. A model does best by giving each cluster its own
// parameters, which is what experts can learn to do.
#include "moegrad/train/task.h"

namespace moegrad::train {

class ClusterTask : public Task {
 public:
  // Hidden width of each cluster's target map.
  static constexpr int64_t kTargetHidden = 16;

  ClusterTask(const DataConfig& cfg, uint64_t seed, DType dtype);
  Batch host_train_batch(int64_t batch_size, Generator& gen) const override;
  Batch host_eval_batch(int64_t i, int64_t batch_size) const override;

  int64_t num_clusters() const { return cfg_.num_clusters; }

 private:
  Batch rows(const Tensor& x, const Tensor& y, const Tensor& labels, const Tensor& index) const;

  DataConfig cfg_;
  Tensor train_x_, train_y_, train_labels_;
  Tensor eval_x_, eval_y_, eval_labels_;
};

// Normalised mutual information I(C; E) / H(C) between labels and assigned experts, in
// [0, 1]: 0 when experts ignore the clusters, 1 when each expert sees one cluster only.
// An expert of -1 (a token expert choice gave to none) is left out.
double specialisation(const std::vector<int64_t>& labels, const std::vector<int64_t>& experts,
                      int64_t num_labels, int64_t num_experts);

}  // namespace moegrad::train
