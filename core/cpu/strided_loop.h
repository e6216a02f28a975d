#pragma once
// The one loop every CPU kernel runs on: row-major traversal of a shape, tracking the
// element offset of N operands with their own strides (stride 0 for broadcast dims).
// The callback gets a whole innermost row at once so kernels keep a tight inner loop.
// Dims that are contiguous for every operand are merged first, so contiguous tensors
// come through as one long row.
#include <array>
#include <cstdint>
#include <vector>

#include "core/shape.h"

namespace moegrad::cpu {

template <size_t N>
using Offsets = std::array<int64_t, N>;

// f(Offsets<N> row_start, int64_t count, Offsets<N> inner_stride)
template <size_t N, typename F>
void for_each_row(const Shape& shape_in, const std::array<const Shape*, N>& strides_in, const Offsets<N>& base,
                  F&& f) {
  for (int64_t s : shape_in)
    if (s == 0) return;
  // Drop size-1 dims and merge (d, d+1) when every operand steps over d as one block of d+1.
  Shape shape;
  std::array<Shape, N> strides;
  for (size_t d = 0; d < shape_in.size(); ++d) {
    if (shape_in[d] == 1) continue;
    bool merge = !shape.empty();
    for (size_t k = 0; merge && k < N; ++k)
      merge = strides[k].back() == (*strides_in[k])[d] * shape_in[d];
    if (merge) {
      shape.back() *= shape_in[d];
      for (size_t k = 0; k < N; ++k) strides[k].back() = (*strides_in[k])[d];
    } else {
      shape.push_back(shape_in[d]);
      for (size_t k = 0; k < N; ++k) strides[k].push_back((*strides_in[k])[d]);
    }
  }
  const int64_t nd = static_cast<int64_t>(shape.size());
  if (nd == 0) {
    f(base, int64_t{1}, Offsets<N>{});
    return;
  }
  Offsets<N> inner{};
  for (size_t k = 0; k < N; ++k) inner[k] = strides[k][nd - 1];
  const int64_t count = shape[nd - 1];
  std::vector<int64_t> idx(nd, 0);
  Offsets<N> off = base;
  while (true) {
    f(off, count, inner);
    int64_t d = nd - 2;
    for (; d >= 0; --d) {
      ++idx[d];
      for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
      if (idx[d] < shape[d]) break;
      for (size_t k = 0; k < N; ++k) off[k] -= strides[k][d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return;
  }
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
