#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <bit>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "moegrad/core/cpu/cpu_backend.h"
#include "moegrad/core/cpu/strided_loop.h"

namespace moegrad {

Backend& cpu_backend() {
  static cpu::CpuBackend backend;
  return backend;
}

namespace cpu {

namespace {

// Freed blocks are kept by their rounded size class and handed out again: a training step
// allocates the same shapes every time, and reusing them saves the page faults and
// zeroing that fresh large allocations cost. Bounded, so a changing workload cannot
// hoard memory; the bound holds a whole step of the L benchmark (about 1.2 GiB of
// activations and gradients), below which every step faulted ~160 MB of pages back in.
class BlockCache {
 public:
  static constexpr size_t kMaxCached = size_t{2048} << 20;

  void* take(size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(bytes);
    if (it == free_.end() || it->second.empty()) return nullptr;
    void* p = it->second.back();
    it->second.pop_back();
    cached_ -= bytes;
    return p;
  }
  // Called on the no-throw free path, also while an exception unwinds: keeping the block
  // may need memory (a new list entry), and when that fails the block is freed instead.
  bool give(void* p, size_t bytes) noexcept {
    try {
      std::lock_guard<std::mutex> lock(mu_);
      if (cached_ + bytes > kMaxCached) return false;
      free_[bytes].push_back(p);
      cached_ += bytes;
      return true;
    } catch (...) {
      return false;
    }
  }
  ~BlockCache() {
    for (auto& [bytes, list] : free_)
      for (void* p : list) std::free(p);
  }

 private:
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t cached_ = 0;
};

BlockCache& block_cache() {
  static BlockCache cache;
  return cache;
}

// 64-byte alignment suits AVX-512 loads and OpenBLAS; aligned_alloc needs a multiple.
// Above 4 KiB sizes are rounded up to one of 8 classes per power of two (at most 12.5%
// slack): the per-expert tensors of an MoE step change size with the routing every step,
// and exact sizes would then never be reused, costing a page fault per 4 KiB each time.
size_t rounded(size_t nbytes) {
  const size_t bytes = std::max<size_t>(64, (nbytes + 63) / 64 * 64);
  if (bytes <= 4096) return bytes;
  const size_t step = std::bit_floor(bytes) / 8;
  return (bytes + step - 1) / step * step;
}

}  // namespace

void* CpuBackend::allocate(size_t nbytes) {
  const size_t bytes = rounded(nbytes);
  if (void* p = block_cache().take(bytes)) return p;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return p;
}

void CpuBackend::deallocate(void* ptr, size_t nbytes) noexcept {
  if (!ptr) return;
  if (!block_cache().give(ptr, rounded(nbytes))) std::free(ptr);
}

void CpuBackend::copy_from_host(void* dst, const void* host_src, size_t nbytes) {
  if (nbytes) std::memcpy(dst, host_src, nbytes);
}

void CpuBackend::read_to_host(void* host_dst, const void* src, size_t nbytes) {
  if (nbytes) std::memcpy(host_dst, src, nbytes);
}

void CpuBackend::copy(const Tensor& src, const Tensor& out) {
  dispatch_all(src.dtype(), [&]<typename S>() {
    dispatch_all(out.dtype(), [&]<typename D>() {
      const S* sp = base_ptr<S>(src);
      D* op = base_ptr<D>(out);
      parallel_for_each_row<2>(out.shape(), {&src.strides(), &out.strides()}, {src.offset(), out.offset()},
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
    parallel_for_each_row<1>(out.shape(), {&out.strides()}, {out.offset()},
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
