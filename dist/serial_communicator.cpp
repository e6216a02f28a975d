#include "moegrad/dist/serial_communicator.h"

#include "moegrad/core/creation.h"
#include "moegrad/core/elementwise.h"

namespace moegrad::dist {

namespace {
// A fresh tensor equal to x: a returned exchange never aliases its input, on any size.
Tensor fresh_copy(const Tensor& x) {
  Tensor out = empty_like(x);
  core::copy_(out, x);
  return out;
}
}  // namespace

void SerialCommunicator::all_reduce_(const Tensor& t) { check_exchangeable("all_reduce_", t); }

Tensor SerialCommunicator::all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                                        std::span<const int64_t> recv_counts) {
  check_all_to_all_v(x, send_counts, recv_counts, size());
  MOEGRAD_CHECK(recv_counts[0] == send_counts[0], "all_to_all_v: this rank sends itself ", send_counts[0],
                " rows but expects ", recv_counts[0]);
  return fresh_copy(x);
}

Tensor SerialCommunicator::all_gather_v(const Tensor& x, std::span<const int64_t> counts) {
  check_all_gather_v(x, counts, rank(), size());
  return fresh_copy(x);
}

void SerialCommunicator::broadcast_(const Tensor& t, int root) {
  check_exchangeable("broadcast_", t);
  MOEGRAD_CHECK(root == 0, "broadcast_: root ", root, " is not a rank of a group of 1");
}

std::unique_ptr<Communicator> SerialCommunicator::split(int /*color*/, int /*key*/) {
  return std::make_unique<SerialCommunicator>();
}

}  // namespace moegrad::dist
