#include "moegrad/autograd/ops/collective.h"

#include <numeric>

#include "moegrad/autograd/function.h"
#include "moegrad/core/core.h"

namespace moegrad {

namespace {

// x with `axis` moved to the front (contiguous), and back: the communicator exchanges rows.
Tensor axis_first(const Tensor& x, int64_t axis) {
  if (axis == 0) return core::contiguous(x);
  Axes order = {axis};
  for (int64_t i = 0; i < x.dim(); ++i)
    if (i != axis) order.push_back(i);
  return core::contiguous(core::permute(x, order));
}
Tensor axis_back(const Tensor& x, int64_t axis) {
  if (axis == 0) return x;
  Axes order;
  for (int64_t i = 1; i <= axis; ++i) order.push_back(i);
  order.push_back(0);
  for (int64_t i = axis + 1; i < x.dim(); ++i) order.push_back(i);
  return core::contiguous(core::permute(x, order));
}

struct AllGatherOp {
  dist::Communicator* comm = nullptr;
  int64_t axis = 0, part = 0;
  Tensor forward(OpContext&, const Tensor& x, dist::Communicator* c, int64_t ax) {
    comm = c;
    axis = normalize_dim(ax, x.dim(), "all_gather");
    part = x.shape()[axis];
    return axis_back(comm->all_gather(axis_first(x, axis)), axis);
  }
  TensorList backward(const OpContext&, const Tensor& g) {
    Tensor summed = comm->all_reduce(core::contiguous(g));
    return {core::contiguous(core::narrow(summed, axis, comm->rank() * part, part))};
  }
};

struct AllToAllOp {
  dist::Communicator* comm = nullptr;
  Tensor forward(OpContext&, const Tensor& x, dist::Communicator* c) {
    comm = c;
    return comm->all_to_all(core::contiguous(x));
  }
  TensorList backward(const OpContext&, const Tensor& g) { return {comm->all_to_all(core::contiguous(g))}; }
};

struct AllToAllVOp {
  dist::Communicator* comm = nullptr;
  std::vector<int64_t> send, recv;
  Tensor forward(OpContext&, const Tensor& x, dist::Communicator* c, const std::vector<int64_t>& s,
                 const std::vector<int64_t>& r) {
    comm = c, send = s, recv = r;
    return comm->all_to_all_v(core::contiguous(x), send, recv);
  }
  TensorList backward(const OpContext&, const Tensor& g) {
    return {comm->all_to_all_v(core::contiguous(g), recv, send)};
  }
};

}  // namespace

Tensor all_gather(const Tensor& x, dist::Communicator& comm, int64_t axis) {
  return apply<AllGatherOp>(x, &comm, axis);
}

Tensor all_to_all(const Tensor& x, dist::Communicator& comm) { return apply<AllToAllOp>(x, &comm); }

Tensor all_to_all_v(const Tensor& x, dist::Communicator& comm, const std::vector<int64_t>& send_counts,
                    const std::vector<int64_t>& recv_counts) {
  return apply<AllToAllVOp>(x, &comm, send_counts, recv_counts);
}

}  // namespace moegrad
