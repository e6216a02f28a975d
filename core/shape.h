#pragma once
// Shapes, strides and the index arithmetic every op shares.
#include <cstdint>
#include <vector>

namespace moegrad {

using Shape = std::vector<int64_t>;
using Axes = std::vector<int64_t>;

// The element count; an Error naming `op` and the shape for a negative size or a count
// past INT64_MAX (sizes come from configs and files, so they are checked, never wrapped).
int64_t shape_numel(const Shape& shape, const char* op = "shape");
Shape contiguous_strides(const Shape& shape);

// Maps a possibly negative dim into [0, ndim); `op` names the caller in the error.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);

// NumPy broadcasting of two shapes; throws naming `op` and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

// Sorted, unique, non-negative axes; an empty list means every axis.
Axes normalize_axes(const Axes& axes, int64_t ndim, const char* op);

// The shape a reduction leaves: reduced axes dropped or kept as size 1.
Shape reduced_shape(const Shape& shape, const Axes& axes, bool keepdim);

}  // namespace moegrad
