// Reductions over sets of axes, softmax, cumsum and topk, each with the CPU's arithmetic
// in the CPU's order (core/cpu/reduce.cpp): one thread per output element or per line,
// accumulating sequentially in double (int64 for integers); softmax and topk over short
// lines (the expert axis) a warp per line, in the same order. Where the CPU sums a
// contiguous tensor by fixed blocks of rows (kSumBlockRows), so does this, block sums
// combined in block order, so float results are bitwise those of the CPU.
#include <cmath>
#include <limits>
#include <type_traits>

#include "moegrad/core/cuda/backend_impl.h"
#include "moegrad/core/cuda/launch.h"
#include "moegrad/core/cuda/layout.h"

namespace moegrad::cuda {

namespace {

template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// The CPU's block of rows for long column sums of a contiguous tensor.
constexpr int64_t kSumBlockRows = 4096;

// One thread per element of out; `inner` walks the reduced sub-shape of x from offset 0.
template <typename T, typename Out>
__global__ void reduce_kernel(Layout<2> outer, Layout<1> inner, ReduceOp op, const T* x, Out* out) {
  for (int64_t e = grid_first(); e < outer.numel; e += grid_stride()) {
    int64_t o[2];
    offsets_at(outer, e, o);
    const T* xr = x + o[0];
    const int64_t n = inner.numel;
    int64_t r[1];
    if (op == ReduceOp::sum) {
      Acc<T> s = 0;
      for (int64_t i = 0; i < n; ++i) {
        offsets_at(inner, i, r);
        s += static_cast<Acc<T>>(xr[r[0]]);
      }
      out[o[1]] = static_cast<Out>(s);
    }
    if constexpr (!std::is_same_v<T, bool>) {
      if (op == ReduceOp::max || op == ReduceOp::min) {
        const bool is_max = op == ReduceOp::max;
        T s;
        if constexpr (std::is_floating_point_v<T>)
          s = is_max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
        else
          s = is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
        for (int64_t i = 0; i < n; ++i) {
          offsets_at(inner, i, r);
          const T v = xr[r[0]];
          if (v != v || (s == s && (is_max ? v > s : v < s))) s = v;  // NaN wins, as in torch.amax
        }
        out[o[1]] = static_cast<Out>(s);
      }
      if (op == ReduceOp::argmax || op == ReduceOp::argmin) {
        const bool is_max = op == ReduceOp::argmax;
        T best = T(0);
        int64_t at = 0;
        bool any = false;
        for (int64_t i = 0; i < n; ++i) {
          offsets_at(inner, i, r);
          const T v = xr[r[0]];
          // Strict comparison keeps the lower index on ties; a NaN is taken and kept.
          if (!any || (best == best && (v != v || (is_max ? v > best : v < best)))) {
            best = v;
            at = i;
            any = true;
          }
        }
        out[o[1]] = static_cast<Out>(at);
      }
    }
    if constexpr (std::is_floating_point_v<T>) {
      if (op == ReduceOp::logsumexp) {
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < n; ++i) {
          offsets_at(inner, i, r);
          const double v = static_cast<double>(xr[r[0]]);
          if (v != v || v > m) m = v;
        }
        if (!std::isfinite(m)) {
          out[o[1]] = static_cast<Out>(m);
          continue;
        }
        double s = 0;
        for (int64_t i = 0; i < n; ++i) {
          offsets_at(inner, i, r);
          s += std::exp(static_cast<double>(xr[r[0]]) - m);
        }
        out[o[1]] = static_cast<Out>(m + std::log(s));
      }
    }
  }
}

// Partial sums of a contiguous (reduced, kept) x over blocks of kSumBlockRows rows: one
// thread per (block, column). A single column uses the CPU's 8 interleaved lanes.
template <typename T>
__global__ void block_sum_kernel(const T* x, int64_t reduced, int64_t kept, int64_t blocks, Acc<T>* partial) {
  using A = Acc<T>;
  for (int64_t t = grid_first(); t < blocks * kept; t += grid_stride()) {
    const int64_t b = t / kept, j = t % kept;
    const int64_t r0 = b * kSumBlockRows, r1 = r0 + kSumBlockRows < reduced ? r0 + kSumBlockRows : reduced;
    if (kept == 1) {
      A lane[8] = {};
      int64_t r = r0;
      for (; r + 8 <= r1; r += 8)
        for (int l = 0; l < 8; ++l) lane[l] += static_cast<A>(x[r + l]);
      for (; r < r1; ++r) lane[0] += static_cast<A>(x[r]);
      partial[t] = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
    } else {
      A acc = 0;
      for (int64_t r = r0; r < r1; ++r) acc += static_cast<A>(x[r * kept + j]);
      partial[t] = acc;
    }
  }
}

template <typename A, typename Out>
__global__ void combine_blocks_kernel(const A* partial, int64_t kept, int64_t blocks, Out* out) {
  for (int64_t j = grid_first(); j < kept; j += grid_stride()) {
    A total = 0;
    for (int64_t b = 0; b < blocks; ++b) total += partial[b * kept + j];
    out[j] = static_cast<Out>(total);
  }
}

// max or min of a whole contiguous tensor as the CPU's fast path computes it: starting at
// the first element, take strictly greater (less) ones, and a canonical NaN if any is NaN.
// That fold yields the first element holding the extreme value, so folding chunks in
// parallel and then the chunk results in chunk order gives the same bits.
constexpr int64_t kExtremumChunk = 4096;

template <typename T>
struct Extremum {
  T best;
  bool nan;
};

template <typename T>
__device__ inline T take_extreme(bool is_max, T v, T best) {
  return is_max ? (v > best ? v : best) : (v < best ? v : best);
}

template <typename T>
__global__ void extremum_chunks_kernel(const T* x, int64_t n, int64_t chunks, bool is_max, Extremum<T>* partial) {
  for (int64_t c = grid_first(); c < chunks; c += grid_stride()) {
    const int64_t i0 = c * kExtremumChunk, i1 = i0 + kExtremumChunk < n ? i0 + kExtremumChunk : n;
    Extremum<T> r{x[i0], false};
    for (int64_t i = i0; i < i1; ++i) {
      const T v = x[i];
      r.best = take_extreme(is_max, v, r.best);
      if constexpr (std::is_floating_point_v<T>) r.nan = r.nan || v != v;
    }
    partial[c] = r;
  }
}

template <typename T>
__global__ void extremum_combine_kernel(const Extremum<T>* partial, int64_t chunks, bool is_max, T* out) {
  if (grid_first() != 0) return;
  T best = partial[0].best;
  bool nan = false;
  for (int64_t c = 0; c < chunks; ++c) {
    best = take_extreme(is_max, partial[c].best, best);
    nan = nan || partial[c].nan;
  }
  *out = nan ? std::numeric_limits<T>::quiet_NaN() : best;
}

template <typename T>
__global__ void softmax_kernel(Layout<2> lines, int64_t n, int64_t xs, int64_t os, bool log, const T* x, T* out) {
  for (int64_t e = grid_first(); e < lines.numel; e += grid_stride()) {
    int64_t o[2];
    offsets_at(lines, e, o);
    const T* xr = x + o[0];
    T* orow = out + o[1];
    double m = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      const double v = static_cast<double>(xr[i * xs]);
      m = m < v ? v : m;  // std::max(m, v), NaN included
    }
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(xr[i * xs]) - m);
    if (log) {
      const double lse = m + std::log(s);
      for (int64_t i = 0; i < n; ++i) orow[i * os] = static_cast<T>(xr[i * xs] - lse);
    } else {
      for (int64_t i = 0; i < n; ++i) orow[i * os] = static_cast<T>(std::exp(static_cast<double>(xr[i * xs]) - m) / s);
    }
  }
}

// Rows up to kWarpRowMax long (the expert axis of routing, small vocabularies) take a warp
// each: lane l holds elements l, l + 32, ... in registers.
constexpr int kPerLane = 8;
constexpr int64_t kWarpRowMax = kPerLane * kWarpSize;

// softmax with a warp per row and the CPU's arithmetic: the CPU's running max never takes
// a NaN, so the lanes' maxima combine in any order to the same value; the exps are summed
// in the CPU's element order, every lane adding all n of them as they are broadcast.
template <typename T>
__global__ void softmax_warp_kernel(Layout<2> lines, int64_t n, int64_t xs, int64_t os, bool log, const T* x,
                                    T* out) {
  const int lane = lane_index();
  for (int64_t e = warp_first(); e < lines.numel; e += warp_stride()) {
    int64_t o[2];
    offsets_at(lines, e, o);
    const T* xr = x + o[0];
    T* orow = out + o[1];
    double v[kPerLane];
    double m = -std::numeric_limits<double>::infinity();
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t i = lane + j * kWarpSize;
      v[j] = i < n ? static_cast<double>(xr[i * xs]) : 0.0;
      if (i < n) m = m < v[j] ? v[j] : m;
    }
    for (int d = kWarpSize / 2; d >= 1; d /= 2) {
      const double other = __shfl_xor_sync(kFullWarp, m, d);
      m = m < other ? other : m;
    }
    m = __shfl_sync(kFullWarp, m, 0);  // one value of a tie between -0.0 and 0.0 for every lane
    double ex[kPerLane];
    for (int j = 0; j < kPerLane; ++j) ex[j] = lane + j * kWarpSize < n ? std::exp(v[j] - m) : 0.0;
    double s = 0;
    for (int j = 0; j < kPerLane && j * kWarpSize < n; ++j)
      for (int l = 0; l < kWarpSize && j * kWarpSize + l < n; ++l) s += __shfl_sync(kFullWarp, ex[j], l);
    const double lse = log ? m + std::log(s) : 0.0;
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t i = lane + j * kWarpSize;
      if (i >= n) continue;
      orow[i * os] = log ? static_cast<T>(xr[i * xs] - lse) : static_cast<T>(ex[j] / s);
    }
  }
}

template <typename T>
__global__ void cumsum_kernel(Layout<2> lines, int64_t n, int64_t xs, int64_t os, bool exclusive, const T* x, T* out) {
  for (int64_t e = grid_first(); e < lines.numel; e += grid_stride()) {
    int64_t o[2];
    offsets_at(lines, e, o);
    Acc<T> s = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (exclusive) {
        out[o[1] + i * os] = static_cast<T>(s);
        s += static_cast<Acc<T>>(x[o[0] + i * xs]);
      } else {
        s += static_cast<Acc<T>>(x[o[0] + i * xs]);
        out[o[1] + i * os] = static_cast<T>(s);
      }
    }
  }
}

// The CPU's topk order: NaN first, then larger values, ties to the lower index. It is a
// strict total order on indices, so the j-th pick is the best element after the (j-1)-th,
// found in one pass; no scratch memory.
template <typename T>
__device__ inline bool topk_before_value(T va, int64_t ia, T vb, int64_t ib) {
  const bool na = va != va, nb = vb != vb;
  if (na != nb) return na;
  if (!na && va != vb) return va > vb;
  return ia < ib;
}

template <typename T>
__device__ inline bool topk_before(const T* xr, int64_t xs, int64_t a, int64_t b) {
  return topk_before_value(xr[a * xs], a, xr[b * xs], b);
}

template <typename T>
__global__ void topk_kernel(Layout<3> lines, int64_t n, int64_t k, int64_t xs, int64_t vs, int64_t is, const T* x,
                            T* values, int64_t* indices) {
  for (int64_t e = grid_first(); e < lines.numel; e += grid_stride()) {
    int64_t o[3];
    offsets_at(lines, e, o);
    const T* xr = x + o[0];
    int64_t prev = -1;
    for (int64_t j = 0; j < k; ++j) {
      int64_t best = -1;
      for (int64_t i = 0; i < n; ++i) {
        if (prev >= 0 && !topk_before(xr, xs, prev, i)) continue;
        if (best < 0 || topk_before(xr, xs, i, best)) best = i;
      }
      values[o[1] + j * vs] = xr[best * xs];
      indices[o[2] + j * is] = best;
      prev = best;
    }
  }
}

// topk with a warp per row: each pick, every lane proposes its first element after the
// previous pick in topk_before's order, and the warp keeps the first proposal. The order
// is strict and total, so the pairwise combining gives the CPU's pick.
template <typename T>
__global__ void topk_warp_kernel(Layout<3> lines, int64_t n, int64_t k, int64_t xs, int64_t vs, int64_t is,
                                 const T* x, T* values, int64_t* indices) {
  const int lane = lane_index();
  for (int64_t e = warp_first(); e < lines.numel; e += warp_stride()) {
    int64_t o[3];
    offsets_at(lines, e, o);
    const T* xr = x + o[0];
    T v[kPerLane];
    for (int j = 0; j < kPerLane; ++j) {
      const int64_t i = lane + j * kWarpSize;
      v[j] = i < n ? xr[i * xs] : T(0);
    }
    T prev_v = T(0);
    int64_t prev_i = -1;
    for (int64_t pick = 0; pick < k; ++pick) {
      T best_v = T(0);
      int64_t best_i = -1;  // -1: no proposal
      for (int j = 0; j < kPerLane; ++j) {
        const int64_t i = lane + j * kWarpSize;
        if (i >= n || (prev_i >= 0 && !topk_before_value(prev_v, prev_i, v[j], i))) continue;
        if (best_i < 0 || topk_before_value(v[j], i, best_v, best_i)) {
          best_v = v[j];
          best_i = i;
        }
      }
      for (int d = kWarpSize / 2; d >= 1; d /= 2) {
        const T other_v = __shfl_xor_sync(kFullWarp, best_v, d);
        const int64_t other_i = __shfl_xor_sync(kFullWarp, best_i, d);
        if (other_i >= 0 && (best_i < 0 || topk_before_value(other_v, other_i, best_v, best_i))) {
          best_v = other_v;
          best_i = other_i;
        }
      }
      if (lane == 0) {
        values[o[1] + pick * vs] = best_v;
        indices[o[2] + pick * is] = best_i;
      }
      prev_v = best_v;
      prev_i = best_i;
    }
  }
}

// The lines along `axis` of x (x's shape with axis at 1), as the CPU's for_each_line.
Shape line_shape(const Tensor& x, int64_t axis) {
  Shape s = x.shape();
  s[axis] = 1;
  return s;
}

}  // namespace

void CudaBackend::reduce(ReduceOp op, const Tensor& x, const Axes& axes, const Tensor& out) {
  const char* name = "reduce";
  ctx_.activate(name);
  dispatch_all(x.dtype(), [&]<typename T>() {
    using A = Acc<T>;
    // The CPU's contiguous fast paths, where their order differs from the generic one.
    if (op == ReduceOp::sum && x.is_contiguous() && out.is_contiguous() && !axes.empty()) {
      bool prefix = true;
      for (size_t i = 0; i < axes.size(); ++i) prefix = prefix && axes[i] == static_cast<int64_t>(i);
      int64_t reduced = 1;
      for (int64_t a : axes) reduced *= x.shape()[a];
      const int64_t kept = out.numel();
      if (prefix && kept < 64 && reduced > kSumBlockRows) {
        const int64_t blocks = (reduced + kSumBlockRows - 1) / kSumBlockRows;
        DeviceScratch partial(memory_, static_cast<size_t>(blocks * kept) * sizeof(A));
        launch(ctx_, name, blocks * kept, block_sum_kernel<T>, x.data_ptr<T>(), reduced, kept, blocks, partial.as<A>());
        if (out.dtype() == DType::i64) {
          launch(ctx_, name, kept, combine_blocks_kernel<A, int64_t>, partial.as<A>(), kept, blocks,
                 out.data_ptr<int64_t>());
        } else if constexpr (!std::is_same_v<T, bool>) {
          launch(ctx_, name, kept, combine_blocks_kernel<A, T>, partial.as<A>(), kept, blocks, out.data_ptr<T>());
        }
        return;
      }
    }
    if constexpr (!std::is_same_v<T, bool>) {
      if ((op == ReduceOp::max || op == ReduceOp::min) && x.is_contiguous() &&
          static_cast<int64_t>(axes.size()) == x.dim() && x.numel() > 0) {
        const int64_t chunks = (x.numel() + kExtremumChunk - 1) / kExtremumChunk;
        DeviceScratch partial(memory_, static_cast<size_t>(chunks) * sizeof(Extremum<T>));
        const bool is_max = op == ReduceOp::max;
        launch(ctx_, name, chunks, extremum_chunks_kernel<T>, x.data_ptr<T>(), x.numel(), chunks, is_max,
               partial.as<Extremum<T>>());
        // Stored at the view's element (the CPU stores at its storage's start).
        launch(ctx_, name, 1, extremum_combine_kernel<T>, partial.as<const Extremum<T>>(), chunks, is_max,
               out.data_ptr<T>());
        return;
      }
    }
    Shape rshape, rstrides;
    for (int64_t a : axes) {
      rshape.push_back(x.shape()[a]);
      rstrides.push_back(x.strides()[a]);
    }
    const Layout<2> outer =
        make_layout<2>(name, out.shape(), {&x.strides(), &out.strides()}, {x.offset(), out.offset()});
    const Layout<1> inner = make_layout<1>(name, rshape, {&rstrides}, {0});
    const bool to_i64 = out.dtype() == DType::i64;
    constexpr bool is_float = std::is_floating_point_v<T>, is_bool = std::is_same_v<T, bool>;
    const bool ok = op == ReduceOp::sum ? (to_i64 || !is_bool)
                    : op == ReduceOp::logsumexp ? is_float
                                                : !is_bool;
    if (!ok) throw Error("reduce: op not implemented for this dtype");
    if (op == ReduceOp::argmax || op == ReduceOp::argmin || (op == ReduceOp::sum && to_i64)) {
      launch(ctx_, name, outer.numel, reduce_kernel<T, int64_t>, outer, inner, op, base_ptr<T>(x),
             base_ptr<int64_t>(out));
    } else if constexpr (!is_bool) {
      launch(ctx_, name, outer.numel, reduce_kernel<T, T>, outer, inner, op, base_ptr<T>(x), base_ptr<T>(out));
    }
  });
}

void CudaBackend::softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) {
  ctx_.activate("softmax");
  const Layout<2> lines = make_layout<2>("softmax", line_shape(x, axis), {&x.strides(), &out.strides()},
                                         {x.offset(), out.offset()});
  const int64_t n = x.shape()[axis];
  dispatch_float(x.dtype(), "softmax", [&]<typename T>() {
    if (n <= kWarpRowMax)
      launch_warps(ctx_, "softmax", lines.numel, softmax_warp_kernel<T>, lines, n, x.strides()[axis],
                   out.strides()[axis], log, base_ptr<T>(x), base_ptr<T>(out));
    else
      launch(ctx_, "softmax", lines.numel, softmax_kernel<T>, lines, n, x.strides()[axis], out.strides()[axis], log,
             base_ptr<T>(x), base_ptr<T>(out));
  });
}

void CudaBackend::cumsum(const Tensor& x, int64_t axis, bool exclusive, const Tensor& out) {
  ctx_.activate("cumsum");
  const Layout<2> lines = make_layout<2>("cumsum", line_shape(x, axis), {&x.strides(), &out.strides()},
                                         {x.offset(), out.offset()});
  dispatch_numeric(x.dtype(), "cumsum", [&]<typename T>() {
    launch(ctx_, "cumsum", lines.numel, cumsum_kernel<T>, lines, x.shape()[axis], x.strides()[axis],
           out.strides()[axis], exclusive, base_ptr<T>(x), base_ptr<T>(out));
  });
}

void CudaBackend::topk(const Tensor& x, int64_t k, int64_t axis, const Tensor& values, const Tensor& indices) {
  ctx_.activate("topk");
  const Layout<3> lines =
      make_layout<3>("topk", line_shape(x, axis), {&x.strides(), &values.strides(), &indices.strides()},
                     {x.offset(), values.offset(), indices.offset()});
  dispatch_numeric(x.dtype(), "topk", [&]<typename T>() {
    if (k == 0) return;
    const int64_t n = x.shape()[axis];
    if (n <= kWarpRowMax)
      launch_warps(ctx_, "topk", lines.numel, topk_warp_kernel<T>, lines, n, k, x.strides()[axis],
                   values.strides()[axis], indices.strides()[axis], base_ptr<T>(x), base_ptr<T>(values),
                   base_ptr<int64_t>(indices));
    else
      launch(ctx_, "topk", lines.numel, topk_kernel<T>, lines, n, k, x.strides()[axis], values.strides()[axis],
             indices.strides()[axis], base_ptr<T>(x), base_ptr<T>(values), base_ptr<int64_t>(indices));
  });
}

}  // namespace moegrad::cuda
