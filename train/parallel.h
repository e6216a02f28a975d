#pragma once
// A run over the ranks of an MPI job (`mpirun -np W moegrad train`): data parallel over all
// W ranks, expert parallel over groups of K = parallel.expert (docs/distributed.md).
//
// Every rank draws the same whole batch and routing draws and keeps its part of the batch
// (Batch::example_axis); the gating routes the whole batch (moe::GatingCall::data_group),
// so capacity, drops and aux losses are the single process's. Each rank's loss is the
// mean over its part, so the mean over ranks of the gradients is the single process's:
// replicated gradients are summed over the world and divided by W, an expert's over the
// ranks that hold the same expert, also divided by W (its rank received every rank of its
// expert group's tokens, whose W / K groups together hold the whole batch).
//
// With one process every operation here is the identity, and training is what it was.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "moegrad/dist/communicator.h"
#include "moegrad/dist/timed_communicator.h"
#include "moegrad/moe/top_n_gating.h"
#include "moegrad/nn/module.h"
#include "moegrad/nn/state_dict.h"
#include "moegrad/train/config.h"
#include "moegrad/train/task.h"

namespace moegrad::train {

class ParallelRun {
 public:
  // The process's world (make_communicator()). A ConfigFileError naming parallel.expert or
  // train.batch_size when the layout does not fit the world's size.
  ParallelRun(const Config& cfg, const std::string& location);
  // The same for `expert` ranks per copy of the experts and batches of `examples`; errors
  // name `expert_key` and `batch_key`.
  ParallelRun(int64_t expert, int64_t examples, const std::string& location, const std::string& expert_key,
              const std::string& batch_key);
  ~ParallelRun();

  int rank() const { return world_->rank(); }
  int size() const { return world_->size(); }
  bool distributed() const { return world_->size() > 1; }
  bool leader() const { return rank() == 0; }
  dist::Communicator& world() { return *world_; }
  // Wall seconds spent in collectives so far (waiting for other ranks included).
  double communication_seconds() const { return timed_->seconds(); }

  // Spreads each MoE layer's experts over this rank's expert group (after the whole model
  // is built and loaded), and notes which parameters are experts'.
  void place_experts(nn::Module& model);
  // Whether the parameter (or state entry) `name` belongs to a routed expert.
  bool is_expert(const std::string& name) const;

  // This rank's part of the whole batch (`labels` and `tokens` stay the whole batch's: the
  // routing a forward reports is the whole batch's too).
  Batch own_part(const Batch& whole) const;
  // `call` with this rank's data group, for a batch split as `batch` is.
  moe::GatingCall split_call(moe::GatingCall call, const Batch& batch);

  // After backward: every gradient becomes the single process's (see above). Replicated
  // gradients travel in buckets of a fixed size, so the reduction order never changes.
  void reduce_gradients(const nn::NamedTensors& params);
  // The 2-norm of all gradients, each expert counted once, and clipping to max_norm
  // (0: none) as torch.nn.utils.clip_grad_norm_ does, on every rank alike.
  double clip_gradients(const nn::NamedTensors& params, double max_norm);

  // Whether `here` holds on any rank: every rank gets the same answer.
  bool any(bool here);
  // A problem decided by every rank together, so that none stops alone: nothing when no
  // rank has one, else this rank's own description (`here`, empty when it has none) or,
  // on a rank that saw nothing, `elsewhere`.
  std::optional<std::string> agreed_problem(const std::string& here, const std::string& elsewhere);
  // The mean over ranks of a value each rank holds.
  double mean(double here);
  // Throws an Error naming the first parameter that differs between ranks that should
  // hold the same copy (a hash of its bytes is compared), with `when`.
  void check_replicas(const nn::NamedTensors& params, const std::string& when);
  // Rank 0's string, on every rank.
  std::string broadcast(const std::string& from_leader);

  // The whole model's (or optimizer's) state on rank 0, keyed and ordered as one process
  // would write it; `own` elsewhere. Collective.
  nn::StateDict gather(const nn::StateDict& own);
  // The entries of a whole state that this rank holds: `names` are the held parameters,
  // and a key is held when it is a name or starts with one and a '.' (optimizer state).
  static nn::StateDict held_part(const nn::StateDict& whole, const nn::NamedTensors& held);

 private:
  ParallelRun();  // the world alone
  dist::TimedCommunicator* timed_ = nullptr;  // world_, as the clock of every exchange
  std::unique_ptr<dist::Communicator> world_;
  std::unique_ptr<dist::Communicator> expert_group_;  // the K ranks that share one copy of the experts
  std::unique_ptr<dist::Communicator> replicas_;      // the W / K ranks holding the same experts
  int64_t expert_size_ = 1;
  std::vector<std::string> expert_prefixes_;  // "<path of an Experts>."
};

}  // namespace moegrad::train
