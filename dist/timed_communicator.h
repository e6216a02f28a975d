#pragma once
// A Communicator that times another: every operation's wall time (waiting for the other
// ranks included) is added to a clock shared with the groups it splits off, so a run can
// say what share of its step it spent communicating.
#include <memory>

#include "moegrad/dist/communicator.h"

namespace moegrad::dist {

class TimedCommunicator final : public Communicator {
 public:
  explicit TimedCommunicator(std::unique_ptr<Communicator> inner);
  // Seconds spent in this communicator and every one split from it, so far.
  double seconds() const { return *seconds_; }

  int rank() const override { return inner_->rank(); }
  int size() const override { return inner_->size(); }
  void all_reduce_(const Tensor& t) override;
  Tensor all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                      std::span<const int64_t> recv_counts) override;
  Tensor all_gather_v(const Tensor& x, std::span<const int64_t> counts) override;
  void broadcast_(const Tensor& t, int root) override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key) override;

 private:
  TimedCommunicator(std::unique_ptr<Communicator> inner, std::shared_ptr<double> seconds);
  std::unique_ptr<Communicator> inner_;
  std::shared_ptr<double> seconds_;
};

}  // namespace moegrad::dist
