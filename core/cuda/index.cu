// gather and scatter_add along one axis (indices were bounds-checked by the caller).
// scatter_add is deterministic without atomics: an element of `out` receives additions
// only from the one line of `index` (all coordinates but `axis`) that shares its other
// coordinates, so one thread per line, adding in axis order, makes every element's sum
// in exactly the CPU's order (row-major over index), from out's existing value.
#include "moegrad/core/cuda/backend_impl.h"
#include "moegrad/core/cuda/launch.h"
#include "moegrad/core/cuda/layout.h"

namespace moegrad::cuda {

namespace {

// t's strides with the indexed axis zeroed: the walk is over index's shape, and the
// indexed coordinate comes from the index value.
using cpu::strides_without_axis;

template <typename T>
__global__ void gather_kernel(Layout<3> l, int64_t step, const int64_t* index, const T* x, T* out) {
  for (int64_t i = grid_first(); i < l.numel; i += grid_stride()) {
    int64_t o[3];
    offsets_at(l, i, o);
    out[o[2]] = x[o[1] + index[o[0]] * step];
  }
}

template <typename T>
__global__ void scatter_add_kernel(Layout<3> lines, int64_t n, int64_t index_step, int64_t src_step,
                                   int64_t out_step, const int64_t* index, const T* src, T* out) {
  for (int64_t e = grid_first(); e < lines.numel; e += grid_stride()) {
    int64_t o[3];
    offsets_at(lines, e, o);
    for (int64_t i = 0; i < n; ++i) out[o[2] + index[o[0] + i * index_step] * out_step] += src[o[1] + i * src_step];
  }
}

}  // namespace

void CudaBackend::gather(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) {
  ctx_.activate("gather");
  const Shape xs = strides_without_axis(x.strides(), axis);
  const Layout<3> l = make_layout<3>("gather", index.shape(), {&index.strides(), &xs, &out.strides()},
                                     {index.offset(), x.offset(), out.offset()});
  dispatch_all(x.dtype(), [&]<typename T>() {
    launch(ctx_, "gather", l.numel, gather_kernel<T>, l, x.strides()[axis], base_ptr<int64_t>(index), base_ptr<T>(x),
           base_ptr<T>(out));
  });
}

void CudaBackend::scatter_add(const Tensor& out, int64_t axis, const Tensor& index, const Tensor& src) {
  ctx_.activate("scatter_add");
  const Shape os = strides_without_axis(out.strides(), axis);
  Shape lines_shape = index.shape();
  lines_shape[axis] = 1;
  const Layout<3> lines = make_layout<3>("scatter_add", lines_shape, {&index.strides(), &src.strides(), &os},
                                         {index.offset(), src.offset(), out.offset()});
  dispatch_numeric(out.dtype(), "scatter_add", [&]<typename T>() {
    launch(ctx_, "scatter_add", lines.numel, scatter_add_kernel<T>, lines, index.shape()[axis], index.strides()[axis],
           src.strides()[axis], out.strides()[axis], base_ptr<int64_t>(index), base_ptr<T>(src), base_ptr<T>(out));
  });
}

}  // namespace moegrad::cuda
