#include <cstdlib>
#include <cstring>
#include <new>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/strided_loop.h"

namespace moegrad {

Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}

namespace cpu {

void* CpuBackend::allocate(size_t nbytes) {
  // 64-byte alignment suits AVX-512 loads and OpenBLAS; aligned_alloc needs a multiple.
  size_t rounded = (nbytes + 63) / 64 * 64;
  if (rounded == 0) rounded = 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) throw std::bad_alloc();
  return p;
}

void CpuBackend::deallocate(void* ptr, size_t) noexcept { std::free(ptr); }

void CpuBackend::copy_from_host(void* dst, const void* host_src, size_t nbytes) {
  if (nbytes) std::memcpy(dst, host_src, nbytes);
}

void CpuBackend::copy_to_host(void* host_dst, const void* src, size_t nbytes) {
  if (nbytes) std::memcpy(host_dst, src, nbytes);
}

void CpuBackend::copy(const Tensor& src, const Tensor& out) {
  dispatch_all(src.dtype(), [&]<typename S>() {
    dispatch_all(out.dtype(), [&]<typename D>() {
      const S* sp = base_ptr<S>(src);
      D* op = base_ptr<D>(out);
      for_each_row<2>(out.shape(), {&src.strides(), &out.strides()}, {src.offset(), out.offset()},
                      [&](Offsets<2> off, int64_t n, const Offsets<2>& st) {
                        for (int64_t i = 0; i < n; ++i)
                          op[off[1] + i * st[1]] = static_cast<D>(sp[off[0] + i * st[0]]);
                      });
    });
  });
}

void CpuBackend::fill(const Tensor& out, double value) {
  dispatch_all(out.dtype(), [&]<typename D>() {
    D v = static_cast<D>(value);
    D* op = base_ptr<D>(out);
    for_each_row<1>(out.shape(), {&out.strides()}, {out.offset()},
                    [&](Offsets<1> off, int64_t n, const Offsets<1>& st) {
                      for (int64_t i = 0; i < n; ++i) op[off[0] + i * st[0]] = v;
                    });
  });
}

void CpuBackend::arange(const Tensor& out, double start, double step) {
  dispatch_numeric(out.dtype(), "arange", [&]<typename D>() {
    D* op = out.data_ptr<D>();
    for (int64_t i = 0; i < out.numel(); ++i)
      op[i] = static_cast<D>(start + static_cast<double>(i) * step);
  });
}

}  // namespace cpu
}  // namespace moegrad
