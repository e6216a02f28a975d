#pragma once
// Differentiable exchanges over a dist::Communicator: what data and expert parallel
// training move between ranks, with backwards that are the exchanges' adjoints. Each is
// collective: every rank of `comm` calls it, in the same order, and so does its backward.
#include <cstdint>
#include <vector>

#include "moegrad/core/tensor.h"
#include "moegrad/dist/communicator.h"

namespace moegrad {

// Every rank's x concatenated along `axis` in rank order (equal sizes). Backward: the sum
// over ranks of the result's gradient, narrowed to this rank's part. The sum is the point:
// every rank may use every rank's part (a loss computed from the whole on each rank), and
// a backward that kept only this rank's own gradient would lose the others' uses of it.
Tensor all_gather(const Tensor& x, dist::Communicator& comm, int64_t axis);

// Equal blocks of x along axis 0: block j goes to rank j, the result holds the blocks
// received, in rank order. Backward: the same exchange of the gradient, which sends each
// block's gradient back to where the block came from.
Tensor all_to_all(const Tensor& x, dist::Communicator& comm);

// Rows of x along axis 0, send_counts[j] to rank j, recv_counts[i] from rank i (as
// Communicator::all_to_all_v). Backward: the reverse exchange, counts swapped.
Tensor all_to_all_v(const Tensor& x, dist::Communicator& comm, const std::vector<int64_t>& send_counts,
                    const std::vector<int64_t>& recv_counts);

}  // namespace moegrad
