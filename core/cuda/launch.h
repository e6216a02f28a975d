#pragma once
// The kernel launches of the backend: a 1-D grid of kBlockThreads-thread blocks, capped
// at the context's max_grid_blocks (grid y and z stop at 65535; x alone never runs out),
// with kernels looping over the rest of their work by the grid stride: a thread per item
// (launch), or a warp per item (launch_warps, for kernels whose lanes shuffle). The launch
// error is checked at once and names the op. Nothing else writes <<< >>>.
#include <algorithm>
#include <cstdint>

#include "moegrad/core/cuda/api.h"
#include "moegrad/core/cuda/context.h"

namespace moegrad::cuda {

constexpr int kBlockThreads = 256;

// First index of this thread and the grid stride, for `for (i = first; i < n; i += stride)`.
__device__ inline int64_t grid_first() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}
__device__ inline int64_t grid_stride() { return static_cast<int64_t>(blockDim.x) * gridDim.x; }

constexpr int kWarpSize = 32;
constexpr unsigned kFullWarp = 0xffffffffu;
constexpr int kWarpsPerBlock = kBlockThreads / kWarpSize;

__device__ inline int lane_index() { return static_cast<int>(threadIdx.x) % kWarpSize; }
// First item of this thread's warp and the warp stride, for a warp-per-item loop. Every
// lane of a warp runs the same iterations, so all 32 reach each shuffle.
__device__ inline int64_t warp_first() { return grid_first() / kWarpSize; }
__device__ inline int64_t warp_stride() { return grid_stride() / kWarpSize; }

template <typename... Params, typename... Args>
void launch_grid(const Context& ctx, const char* op, int64_t blocks, bool cooperative, void (*kernel)(Params...),
                 Args... args) {
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>(blocks, ctx.max_grid_blocks()))), block(kBlockThreads);
#ifdef MOEGRAD_CUDA_EMU
  if (cooperative)
    emu::launch_cooperative(grid, block, kernel, static_cast<Params>(args)...);
  else
    emu::launch(grid, block, kernel, static_cast<Params>(args)...);
#else
  (void)cooperative;
  kernel<<<grid, block, 0, ctx.stream()>>>(static_cast<Params>(args)...);
#endif
  ctx.check_launch(op);
}

// `work` is the number of loop iterations the kernel's grid-stride loop covers.
template <typename... Params, typename... Args>
void launch(const Context& ctx, const char* op, int64_t work, void (*kernel)(Params...), Args... args) {
  if (work <= 0) return;
  launch_grid(ctx, op, (work + kBlockThreads - 1) / kBlockThreads, false, kernel, args...);
}

// `items` is the number of iterations the kernel's warp-stride loop covers.
template <typename... Params, typename... Args>
void launch_warps(const Context& ctx, const char* op, int64_t items, void (*kernel)(Params...), Args... args) {
  if (items <= 0) return;
  launch_grid(ctx, op, (items + kWarpsPerBlock - 1) / kWarpsPerBlock, true, kernel, args...);
}

}  // namespace moegrad::cuda
