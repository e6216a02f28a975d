// gather and scatter_add along one axis. Indices were bounds-checked by the caller.
#include "moegrad/core/cpu/cpu_backend.h"
#include "moegrad/core/cpu/strided_loop.h"

namespace moegrad::cpu {

void CpuBackend::gather(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) {
  dispatch_all(x.dtype(), [&]<typename T>() {
    const T* xp = base_ptr<T>(x);
    const int64_t* ip = base_ptr<int64_t>(index);
    T* op = base_ptr<T>(out);
    const Shape xs = strides_without_axis(x.strides(), axis);
    const int64_t step = x.strides()[axis];
    // Rows along which the index is constant (index_select of whole rows) are plain copies.
    parallel_for_each_row<3>(index.shape(), {&index.strides(), &xs, &out.strides()},
                             {index.offset(), x.offset(), out.offset()},
                             [&](Offsets<3> o, int64_t n, const Offsets<3>& st) {
                               if (st[0] == 0 && st[1] == 1 && st[2] == 1) {
                                 const T* __restrict__ from = xp + o[1] + ip[o[0]] * step;
                                 T* __restrict__ to = op + o[2];
                                 for (int64_t i = 0; i < n; ++i) to[i] = from[i];
                                 return;
                               }
                               for (int64_t i = 0; i < n; ++i)
                                 op[o[2] + i * st[2]] = xp[o[1] + i * st[1] + ip[o[0] + i * st[0]] * step];
                             });
  });
}

void CpuBackend::scatter_add(const Tensor& out, int64_t axis, const Tensor& index,
                             const Tensor& src) {
  dispatch_numeric(out.dtype(), "scatter_add", [&]<typename T>() {
    T* op = base_ptr<T>(out);
    const int64_t* ip = base_ptr<int64_t>(index);
    const T* sp = base_ptr<T>(src);
    const Shape os = strides_without_axis(out.strides(), axis);
    const int64_t step = out.strides()[axis];
    // Serial: two source rows may land on one output row. A row along which the index is
    // constant is one vectorisable add.
    for_each_row<3>(index.shape(), {&index.strides(), &src.strides(), &os},
                    {index.offset(), src.offset(), out.offset()},
                    [&](Offsets<3> o, int64_t n, const Offsets<3>& st) {
                      if (st[0] == 0 && st[1] == 1 && st[2] == 1) {
                        const T* __restrict__ from = sp + o[1];
                        T* __restrict__ to = op + o[2] + ip[o[0]] * step;
                        for (int64_t i = 0; i < n; ++i) to[i] += from[i];
                        return;
                      }
                      for (int64_t i = 0; i < n; ++i)
                        op[o[2] + i * st[2] + ip[o[0] + i * st[0]] * step] += sp[o[1] + i * st[1]];
                    });
  });
}

}  // namespace moegrad::cpu
