#include "moegrad/dist/timed_communicator.h"

#include <chrono>

namespace moegrad::dist {

namespace {
// Adds the lifetime of the scope to `total`.
class Stopwatch {
 public:
  explicit Stopwatch(double& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~Stopwatch() { total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_;
};
}  // namespace

TimedCommunicator::TimedCommunicator(std::unique_ptr<Communicator> inner)
    : TimedCommunicator(std::move(inner), std::make_shared<double>(0.0)) {}

TimedCommunicator::TimedCommunicator(std::unique_ptr<Communicator> inner, std::shared_ptr<double> seconds)
    : inner_(std::move(inner)), seconds_(std::move(seconds)) {}

void TimedCommunicator::all_reduce_(const Tensor& t) {
  Stopwatch w(*seconds_);
  inner_->all_reduce_(t);
}

Tensor TimedCommunicator::all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                                       std::span<const int64_t> recv_counts) {
  Stopwatch w(*seconds_);
  return inner_->all_to_all_v(x, send_counts, recv_counts);
}

Tensor TimedCommunicator::all_gather_v(const Tensor& x, std::span<const int64_t> counts) {
  Stopwatch w(*seconds_);
  return inner_->all_gather_v(x, counts);
}

void TimedCommunicator::broadcast_(const Tensor& t, int root) {
  Stopwatch w(*seconds_);
  inner_->broadcast_(t, root);
}

void TimedCommunicator::barrier() {
  Stopwatch w(*seconds_);
  inner_->barrier();
}

std::unique_ptr<Communicator> TimedCommunicator::split(int color, int key) {
  Stopwatch w(*seconds_);
  return std::unique_ptr<Communicator>(new TimedCommunicator(inner_->split(color, key), seconds_));
}

}  // namespace moegrad::dist
