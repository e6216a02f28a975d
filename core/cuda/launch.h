#pragma once
// The one kernel launch of the backend: a 1-D grid of kBlockThreads-thread blocks, capped
// at the context's max_grid_blocks (grid y and z stop at 65535; x alone never runs out),
// with kernels looping over the rest of their elements by the grid stride. The launch
// error is checked at once and names the op. Nothing else writes <<< >>>.
#include <algorithm>
#include <cstdint>

#include "core/cuda/api.h"
#include "core/cuda/context.h"

namespace moegrad::cuda {

constexpr int kBlockThreads = 256;

// First index of this thread and the grid stride, for `for (i = first; i < n; i += stride)`.
__device__ inline int64_t grid_first() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

// `work` is the number of loop iterations the kernel's grid-stride loop covers.
template <typename... Params, typename... Args>
void launch(const Context& ctx, const char* op, int64_t work, void (*kernel)(Params...), Args... args) {
  if (work <= 0) return;
  const int64_t blocks =
      std::min<int64_t>((work + kBlockThreads - 1) / kBlockThreads, ctx.max_grid_blocks());
  const dim3 grid(static_cast<unsigned>(blocks)), block(kBlockThreads);
#ifdef MOEGRAD_CUDA_EMU
  emu::launch(grid, block, kernel, static_cast<Params>(args)...);
#else
  kernel<<<grid, block, 0, ctx.stream()>>>(static_cast<Params>(args)...);
#endif
  ctx.check_launch(op);
}

}  // namespace moegrad::cuda
