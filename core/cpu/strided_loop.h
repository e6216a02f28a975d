#pragma once
// The one loop every CPU kernel runs on: row-major traversal of a shape, tracking the
// element offset of N operands with their own strides (stride 0 for broadcast dims).
// The callback gets a whole innermost row at once so kernels keep a tight inner loop.
// Dims that are contiguous for every operand are merged first, so contiguous tensors
// come through as one long row.
#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "moegrad/core/cpu/parallel.h"
#include "moegrad/core/shape.h"
#include "moegrad/core/threading.h"

namespace moegrad::cpu {

// `strides` with axis `axis` made 0: x's strides for a walk over an index's shape, the
// indexed axis added by hand (gather, scatter_add: both backends).
inline Shape strides_without_axis(Shape strides, int64_t axis) {
  strides[axis] = 0;
  return strides;
}

template <size_t N>
using Offsets = std::array<int64_t, N>;

// A shape with size-1 dims dropped and (d, d+1) merged wherever every operand steps over d
// as one block of d+1; empty when the shape has no element.
template <size_t N>
struct MergedLayout {
  Shape shape;
  std::array<Shape, N> strides;
  bool empty = false;
};

template <size_t N>
MergedLayout<N> merge_dims(const Shape& shape_in, const std::array<const Shape*, N>& strides_in) {
  MergedLayout<N> m;
  for (int64_t s : shape_in)
    if (s == 0) m.empty = true;
  if (m.empty) return m;
  for (size_t d = 0; d < shape_in.size(); ++d) {
    if (shape_in[d] == 1) continue;
    bool merge = !m.shape.empty();
    for (size_t k = 0; merge && k < N; ++k)
      merge = m.strides[k].back() == (*strides_in[k])[d] * shape_in[d];
    if (merge) {
      m.shape.back() *= shape_in[d];
      for (size_t k = 0; k < N; ++k) m.strides[k].back() = (*strides_in[k])[d];
    } else {
      m.shape.push_back(shape_in[d]);
      for (size_t k = 0; k < N; ++k) m.strides[k].push_back((*strides_in[k])[d]);
    }
  }
  return m;
}

// Rows [row0, row1) of a merged layout (rows are all dims but the last, row-major).
template <size_t N, typename F>
void walk_rows(const MergedLayout<N>& m, const Offsets<N>& base, int64_t row0, int64_t row1, F& f) {
  const int64_t nd = static_cast<int64_t>(m.shape.size());
  Offsets<N> inner{};
  for (size_t k = 0; k < N; ++k) inner[k] = m.strides[k][nd - 1];
  const int64_t count = m.shape[nd - 1];
  std::vector<int64_t> idx(nd, 0);
  Offsets<N> off = base;
  for (int64_t d = nd - 2, rest = row0; d >= 0; --d) {
    idx[d] = rest % m.shape[d];
    rest /= m.shape[d];
    for (size_t k = 0; k < N; ++k) off[k] += idx[d] * m.strides[k][d];
  }
  for (int64_t r = row0; r < row1; ++r) {
    f(off, count, inner);
    for (int64_t d = nd - 2; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < N; ++k) off[k] += m.strides[k][d];
      if (idx[d] < m.shape[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= m.strides[k][d] * m.shape[d];
      idx[d] = 0;
    }
  }
}

template <size_t N>
int64_t row_count(const MergedLayout<N>& m) {
  int64_t rows = 1;
  for (size_t d = 0; d + 1 < m.shape.size(); ++d) rows *= m.shape[d];
  return rows;
}

// f(Offsets<N> row_start, int64_t count, Offsets<N> inner_stride)
template <size_t N, typename F>
void for_each_row(const Shape& shape_in, const std::array<const Shape*, N>& strides_in, const Offsets<N>& base,
                  F&& f) {
  const MergedLayout<N> m = merge_dims<N>(shape_in, strides_in);
  if (m.empty) return;
  if (m.shape.empty()) {
    f(base, int64_t{1}, Offsets<N>{});
    return;
  }
  walk_rows<N>(m, base, 0, row_count(m), f);
}

// Elements per thread below which splitting a loop costs more than it saves.
constexpr int64_t kParallelGrain = 131072;

// for_each_row split over the threads, for kernels whose calls write disjoint elements
// (elementwise maps, copies, fills), with the output as the last operand. A single long
// row is cut into pieces.
template <size_t N, typename F>
void parallel_for_each_row(const Shape& shape_in, const std::array<const Shape*, N>& strides_in,
                           const Offsets<N>& base, F&& f) {
  int64_t numel = 1;
  for (int64_t s : shape_in) numel *= s;
  // An output (the last operand) that is a broadcast view would see threads race on one element.
  bool broadcast_out = false;
  for (size_t d = 0; d < shape_in.size(); ++d)
    broadcast_out = broadcast_out || (shape_in[d] > 1 && (*strides_in[N - 1])[d] == 0);
  if (numel < 2 * kParallelGrain || num_threads() == 1 || broadcast_out)
    return for_each_row<N>(shape_in, strides_in, base, f);
  const MergedLayout<N> m = merge_dims<N>(shape_in, strides_in);
  const int64_t nd = static_cast<int64_t>(m.shape.size());
  const int64_t count = m.shape[nd - 1], rows = row_count(m);
  if (rows == 1) {
    Offsets<N> inner{};
    for (size_t k = 0; k < N; ++k) inner[k] = m.strides[k][nd - 1];
    parallel_for(count, kParallelGrain, [&](int64_t i0, int64_t i1) {
      Offsets<N> off = base;
      for (size_t k = 0; k < N; ++k) off[k] += i0 * inner[k];
      f(off, i1 - i0, inner);
    });
    return;
  }
  parallel_for(rows, std::max<int64_t>(1, kParallelGrain / count),
               [&](int64_t r0, int64_t r1) { walk_rows<N>(m, base, r0, r1, f); });
}

// f(Offsets<N>) once per element.
template <size_t N, typename F>
void for_each_element(const Shape& shape, const std::array<const Shape*, N>& strides, const Offsets<N>& base,
                      F&& f) {
  for_each_row<N>(shape, strides, base, [&](Offsets<N> off, int64_t count, const Offsets<N>& st) {
    for (int64_t i = 0; i < count; ++i) {
      f(off);
      for (size_t k = 0; k < N; ++k) off[k] += st[k];
    }
  });
}

}  // namespace moegrad::cpu
