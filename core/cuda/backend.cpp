// The device registry behind cuda_backend.h, and the backend's memory entry points.
#include <memory>
#include <mutex>
#include <vector>

#include "moegrad/core/cuda/backend_impl.h"
#include "moegrad/core/cuda/check.h"
#include "moegrad/core/cuda/cuda_backend.h"

namespace moegrad {

namespace {

struct DeviceQuery {
  int count = 0;
  std::string reason;
};

const DeviceQuery& device_query() {
  static const DeviceQuery q = [] {
    DeviceQuery r;
    const cudaError_t e = cudaGetDeviceCount(&r.count);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      r.count = 0;
      r.reason = str_cat("no CUDA device found (cudaGetDeviceCount: ", cudaGetErrorName(e), ": ",
                         cudaGetErrorString(e), ")");
    } else if (r.count == 0) {
      r.reason = "no CUDA device found (cudaGetDeviceCount returned 0)";
    }
    return r;
  }();
  return q;
}

cuda::CudaBackend& backend_at(int index) {
  const DeviceQuery& q = device_query();
  MOEGRAD_CHECK(q.count > 0, "cuda_backend: ", q.reason);
  MOEGRAD_CHECK(index >= 0 && index < q.count, "cuda_backend: device index ", index, " out of range: ", q.count,
                " CUDA device(s)");
  static std::mutex mu;
  // Leaked on purpose: storages held by other statics are freed after main returns, and
  // tearing down streams and handles while the runtime unloads fails.
  static auto* backends = new std::vector<std::unique_ptr<cuda::CudaBackend>>(q.count);
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = (*backends)[index];
  if (!slot) slot = std::make_unique<cuda::CudaBackend>(index);
  return *slot;
}

}  // namespace

int cuda_device_count() { return device_query().count; }
bool cuda_device_available() { return cuda_device_count() > 0; }
std::string cuda_unavailable_reason() { return device_query().reason; }
bool cuda_is_emulated() {
#ifdef MOEGRAD_CUDA_EMU
  return true;
#else
  return false;
#endif
}

Backend& cuda_backend(int index) { return backend_at(index); }
CudaMemoryStats cuda_memory_stats(int index) { return backend_at(index).memory().stats(); }
void cuda_empty_cache(int index) { backend_at(index).memory().empty_cache(); }
void cuda_set_max_grid_blocks(int index, int blocks) { backend_at(index).context().set_max_grid_blocks(blocks); }

namespace cuda {

void* CudaBackend::allocate(size_t nbytes) {
  ctx_.activate("cuda allocate");
  return memory_.allocate(nbytes);
}

void CudaBackend::deallocate(void* ptr, size_t nbytes) noexcept { memory_.deallocate(ptr, nbytes); }

// Both copies wait for the stream: the host buffer may be reused or freed as soon as the
// call returns, and the host reads what copy_to_host wrote.
void CudaBackend::copy_from_host(void* dst, const void* host_src, size_t nbytes) {
  if (!nbytes) return;
  ctx_.activate("copy_from_host");
  MOEGRAD_CUDA_CALL("copy_from_host", cudaMemcpyAsync(dst, host_src, nbytes, cudaMemcpyHostToDevice, ctx_.stream()));
  ctx_.synchronize("copy_from_host");
}

void CudaBackend::read_to_host(void* host_dst, const void* src, size_t nbytes) {
  if (!nbytes) return;
  ctx_.activate("copy_to_host");
  MOEGRAD_CUDA_CALL("copy_to_host", cudaMemcpyAsync(host_dst, src, nbytes, cudaMemcpyDeviceToHost, ctx_.stream()));
  ctx_.synchronize("copy_to_host");
}

}  // namespace cuda
}  // namespace moegrad
