#pragma once
// A strided iteration space as a kernel receives it: a plain struct passed by value with
// the shape and N operands' strides (elements), after the same dim merging as the CPU's
// strided loop (size-1 dims dropped, dims contiguous for every operand joined), so a
// linear index i walks elements in the CPU's row-major order.
#include <array>
#include <cstdint>

#include "moegrad/core/cpu/strided_loop.h"
#include "moegrad/core/cuda/api.h"
#include "moegrad/core/error.h"

namespace moegrad::cuda {

// Dims left after merging; a tensor needing more is refused with an error.
constexpr int kMaxDims = 10;

template <int N>
struct Layout {
  int nd = 0;
  int64_t numel = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
  int64_t base[N] = {};  // element offset of each operand's first element
};

// Element offsets of linear index i (row-major over the layout's shape).
template <int N>
__host__ __device__ inline void offsets_at(const Layout<N>& l, int64_t i, int64_t* off) {
  for (int k = 0; k < N; ++k) off[k] = l.base[k];
  for (int d = l.nd - 1; d >= 0; --d) {
    const int64_t c = i % l.shape[d];
    i /= l.shape[d];
    for (int k = 0; k < N; ++k) off[k] += c * l.strides[k][d];
  }
}

template <int N>
Layout<N> make_layout(const char* op, const Shape& shape, const std::array<const Shape*, N>& strides,
                      const std::array<int64_t, N>& base) {
  const cpu::MergedLayout<N> m = cpu::merge_dims<N>(shape, strides);
  Layout<N> l;
  for (int k = 0; k < N; ++k) l.base[k] = base[k];
  if (m.empty) return l;
  MOEGRAD_CHECK(static_cast<int>(m.shape.size()) <= kMaxDims, op, ": the CUDA backend handles at most ", kMaxDims,
                " non-mergeable dims, got shape ", shape);
  l.nd = static_cast<int>(m.shape.size());
  l.numel = 1;
  for (int d = 0; d < l.nd; ++d) {
    l.shape[d] = m.shape[d];
    l.numel *= m.shape[d];
    for (int k = 0; k < N; ++k) l.strides[k][d] = m.strides[k][d];
  }
  return l;
}

}  // namespace moegrad::cuda
