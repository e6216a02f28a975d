#include "moegrad/dist/communicator.h"

#include <numeric>
#include <vector>

#include "moegrad/core/creation.h"
#include "moegrad/core/elementwise.h"

namespace moegrad::dist {

Tensor Communicator::all_reduce(const Tensor& t) {
  Tensor out = empty_like(t);
  core::copy_(out, t);
  all_reduce_(out);
  return out;
}

Tensor Communicator::all_to_all(const Tensor& x) {
  check_exchangeable("all_to_all", x);
  MOEGRAD_CHECK(x.dim() >= 1, "all_to_all: expected a tensor with at least one axis, got a scalar");
  MOEGRAD_CHECK(x.size(0) % size() == 0, "all_to_all: ", x.size(0), " rows do not split equally over ",
                size(), " ranks");
  std::vector<int64_t> counts(static_cast<size_t>(size()), x.size(0) / size());
  return all_to_all_v(x, counts, counts);
}

Tensor Communicator::all_gather(const Tensor& x) {
  check_exchangeable("all_gather", x);
  MOEGRAD_CHECK(x.dim() >= 1, "all_gather: expected a tensor with at least one axis, got a scalar");
  std::vector<int64_t> counts(static_cast<size_t>(size()), x.size(0));
  return all_gather_v(x, counts);
}

int64_t row_numel(const Tensor& x) {
  return x.size(0) == 0 ? shape_numel(Shape(x.shape().begin() + 1, x.shape().end())) : x.numel() / x.size(0);
}

void check_exchangeable(const char* op, const Tensor& t) {
  MOEGRAD_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64 || t.dtype() == DType::i64, op,
                ": expected a float32, float64 or int64 tensor, got ", t.dtype());
  MOEGRAD_CHECK(t.is_contiguous(), op, ": expected a contiguous tensor, got shape ", t.shape(), " strides ",
                t.strides());
}

namespace {
void check_counts(const char* op, const char* what, std::span<const int64_t> counts, int size) {
  MOEGRAD_CHECK(counts.size() == static_cast<size_t>(size), op, ": ", what, " has ", counts.size(),
                " entries, expected one per rank (", size, ")");
  for (size_t i = 0; i < counts.size(); ++i) {
    MOEGRAD_CHECK(counts[i] >= 0, op, ": ", what, "[", i, "] is negative (", counts[i], ")");
  }
}
}  // namespace

void check_all_to_all_v(const Tensor& x, std::span<const int64_t> send_counts,
                        std::span<const int64_t> recv_counts, int size) {
  check_exchangeable("all_to_all_v", x);
  MOEGRAD_CHECK(x.dim() >= 1, "all_to_all_v: expected a tensor with at least one axis, got a scalar");
  check_counts("all_to_all_v", "send_counts", send_counts, size);
  check_counts("all_to_all_v", "recv_counts", recv_counts, size);
  const int64_t sent = std::accumulate(send_counts.begin(), send_counts.end(), int64_t{0});
  MOEGRAD_CHECK(sent == x.size(0), "all_to_all_v: send_counts sum to ", sent, " rows, x has ", x.size(0));
}

void check_all_gather_v(const Tensor& x, std::span<const int64_t> counts, int rank, int size) {
  check_exchangeable("all_gather_v", x);
  MOEGRAD_CHECK(x.dim() >= 1, "all_gather_v: expected a tensor with at least one axis, got a scalar");
  check_counts("all_gather_v", "counts", counts, size);
  MOEGRAD_CHECK(counts[static_cast<size_t>(rank)] == x.size(0), "all_gather_v: counts[", rank, "] is ",
                counts[static_cast<size_t>(rank)], ", this rank's x has ", x.size(0), " rows");
}

Shape rows_shape(const Tensor& x, std::span<const int64_t> counts) {
  Shape shape = x.shape();
  shape[0] = std::accumulate(counts.begin(), counts.end(), int64_t{0});
  return shape;
}

}  // namespace moegrad::dist
