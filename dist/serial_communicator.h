#pragma once
// SerialCommunicator: the group of one process, used when moegrad is not launched under
// mpirun. Every operation is what it is on any communicator of size 1: the sum over one
// rank is the tensor itself, the exchanges return a copy of what this rank sends itself.
#include "moegrad/dist/communicator.h"

namespace moegrad::dist {

class SerialCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce_(const Tensor& t) override;
  Tensor all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                      std::span<const int64_t> recv_counts) override;
  Tensor all_gather_v(const Tensor& x, std::span<const int64_t> counts) override;
  void broadcast_(const Tensor& t, int root) override;
  void barrier() override {}
  std::unique_ptr<Communicator> split(int color, int key) override;
};

}  // namespace moegrad::dist
