// cuda_backend.h for a build without CUDA (MOEGRAD_CUDA=OFF): no device, and a message
// saying how to get one.
#include "moegrad/core/cuda/cuda_backend.h"

namespace moegrad {

namespace {
constexpr const char* kReason = "not built with CUDA (configure with -DMOEGRAD_CUDA=ON and nvcc installed)";
}

int cuda_device_count() { return 0; }
bool cuda_device_available() { return false; }
std::string cuda_unavailable_reason() { return kReason; }
bool cuda_is_emulated() { return false; }
Backend& cuda_backend(int) { throw Error(str_cat("cuda_backend: ", kReason)); }
CudaMemoryStats cuda_memory_stats(int) { throw Error(str_cat("cuda_memory_stats: ", kReason)); }
void cuda_empty_cache(int) {}
void cuda_set_max_grid_blocks(int, int) { throw Error(str_cat("cuda_set_max_grid_blocks: ", kReason)); }

}  // namespace moegrad
