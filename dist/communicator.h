#pragma once
// Communicator: the seam every distributed feature goes through. A group of `size()`
// processes, each knowing its `rank()`, exchanging tensors. Three implementations:
// SerialCommunicator (one process, always built), MpiCommunicator (host tensors, OpenMPI)
// and NcclCommunicator (device tensors, built with CUDA + NCCL + MPI).
//
// Why its own layer, dist/, between core/ and autograd/: it moves the bytes of Tensors
// and needs nothing but core/; the differentiable exchanges (an all-to-all whose backward
// is the reverse all-to-all) are autograd ops written above it, and nn/, moe/ and train/
// reach it through them. dist/ knows nothing of moe/ or train/.
//
// Every operation is collective: every rank of the group calls it, in the same order, with
// tensors of the same dtype and the same shape past axis 0. Tensors are contiguous, float32,
// float64 or int64. The "_v" variants exchange whole rows (slices along axis 0); a count of
// 0 rows is allowed anywhere.
#include <cstdint>
#include <memory>
#include <span>

#include "moegrad/core/tensor.h"

namespace moegrad::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int size() const = 0;

  // Every rank's `t` becomes the elementwise sum over ranks.
  virtual void all_reduce_(const Tensor& t) = 0;
  // The sum as a new tensor; `t` is left as it was.
  Tensor all_reduce(const Tensor& t);

  // Rows [sum(send_counts[:j]), +send_counts[j]) of `x` go to rank j; the result holds, in
  // rank order, the recv_counts[i] rows rank i sent here. recv_counts[i] must equal what
  // rank i passes as send_counts[rank()] (exchange counts first when they are not known).
  virtual Tensor all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                              std::span<const int64_t> recv_counts) = 0;
  // Equal splits: x.size(0) is a multiple of size(), block j goes to rank j.
  Tensor all_to_all(const Tensor& x);

  // Every rank's rows concatenated in rank order; counts[i] is rank i's x.size(0).
  virtual Tensor all_gather_v(const Tensor& x, std::span<const int64_t> counts) = 0;
  // The same with equal counts.
  Tensor all_gather(const Tensor& x);

  // Every rank's `t` becomes root's.
  virtual void broadcast_(const Tensor& t, int root) = 0;

  virtual void barrier() = 0;

  // Ranks passing the same color form one sub-communicator, ranked by (key, old rank),
  // as MPI_Comm_split. Collective over this communicator.
  virtual std::unique_ptr<Communicator> split(int color, int key) = 0;
};

// A tensor's elements per row (slice along axis 0), as the _v operations count them.
int64_t row_numel(const Tensor& x);

// The checks every implementation makes before exchanging, so each says the same thing:
// a contiguous float32/float64/int64 tensor with at least one axis for the _v ops, counts
// of the group's size, none negative, the send counts summing to x.size(0).
void check_exchangeable(const char* op, const Tensor& t);
void check_all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                        std::span<const int64_t> recv_counts, int size);
void check_all_gather_v(const Tensor& x, std::span<const int64_t> counts, int rank, int size);

// The result shape of a _v op: x's shape with axis 0 replaced by the sum of `counts`.
Shape rows_shape(const Tensor& x, std::span<const int64_t> counts);

}  // namespace moegrad::dist
