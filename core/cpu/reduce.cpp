// Reductions over sets of axes, and the along-one-axis ops built like them: softmax,
// cumsum, topk. Float sums accumulate in double, so float32 results are the correctly
// rounded value of a double-precision sum rather than an order-dependent float sum.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "moegrad/core/cpu/cpu_backend.h"
#include "moegrad/core/cpu/strided_loop.h"

namespace moegrad::cpu {

namespace {

template <typename T>
using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// Calls f(x_offset_of_row_start) for every element of out (x's shape with `axes` at 1),
// with the reduced sub-shape described by (rshape, rstrides).
struct ReducePlan {
  Shape rshape, rstrides;
};

ReducePlan plan(const Tensor& x, const Axes& axes) {
  ReducePlan p;
  for (int64_t a : axes) {
    p.rshape.push_back(x.shape()[a]);
    p.rstrides.push_back(x.strides()[a]);
  }
  return p;
}

template <typename T, typename Out, typename Init, typename Step, typename Finish>
void reduce_loop(const Tensor& x, const Axes& axes, const Tensor& out, Init init, Step step,
                 Finish finish) {
  const T* xp = base_ptr<T>(x);
  Out* op = base_ptr<Out>(out);
  ReducePlan p = plan(x, axes);
  for_each_element<2>(out.shape(), {&x.strides(), &out.strides()}, {x.offset(), out.offset()},
                      [&](const Offsets<2>& o) {
                        auto state = init();
                        int64_t i = 0;
                        for_each_element<1>(p.rshape, {&p.rstrides}, {o[0]},
                                            [&](const Offsets<1>& r) { step(state, xp[r[0]], i++); });
                        op[o[1]] = finish(state);
                      });
}

template <typename T>
void reduce_typed(ReduceOp op, const Tensor& x, const Axes& axes, const Tensor& out) {
  using A = Acc<T>;
  constexpr bool is_float = std::is_floating_point_v<T>;
  switch (op) {
    case ReduceOp::sum: {
      // bool and int64 sums count, in int64.
      auto init = [] { return A(0); };
      auto step = [](A& s, T v, int64_t) { s += static_cast<A>(v); };
      if (out.dtype() == DType::i64)
        return reduce_loop<T, int64_t>(x, axes, out, init, step, [](A s) { return static_cast<int64_t>(s); });
      if constexpr (!std::is_same_v<T, bool>)
        return reduce_loop<T, T>(x, axes, out, init, step, [](A s) { return static_cast<T>(s); });
      break;
    }
    case ReduceOp::max:
    case ReduceOp::min: {
      if constexpr (!std::is_same_v<T, bool>) {
        const bool is_max = op == ReduceOp::max;
        // NaN wins, as in torch.amax.
        auto init = [is_max] {
          return is_max ? std::numeric_limits<T>::lowest() : std::numeric_limits<T>::max();
        };
        auto step = [is_max](T& s, T v, int64_t) {
          if (v != v || (s == s && (is_max ? v > s : v < s))) s = v;
        };
        if constexpr (is_float) {
          auto init_inf = [is_max] {
            return is_max ? -std::numeric_limits<T>::infinity() : std::numeric_limits<T>::infinity();
          };
          return reduce_loop<T, T>(x, axes, out, init_inf, step, [](T s) { return s; });
        }
        return reduce_loop<T, T>(x, axes, out, init, step, [](T s) { return s; });
      }
      break;
    }
    case ReduceOp::argmax:
    case ReduceOp::argmin: {
      if constexpr (!std::is_same_v<T, bool>) {
        const bool is_max = op == ReduceOp::argmax;
        struct Best {
          T v;
          int64_t i;
          bool any;
        };
        // Strict comparison keeps the lower index on ties; a NaN is taken and kept.
        auto init = [] { return Best{T(0), 0, false}; };
        auto step = [is_max](Best& b, T v, int64_t i) {
          if (!b.any || (b.v == b.v && (v != v || (is_max ? v > b.v : v < b.v)))) b = {v, i, true};
        };
        return reduce_loop<T, int64_t>(x, axes, out, init, step, [](const Best& b) { return b.i; });
      }
      break;
    }
    case ReduceOp::logsumexp: {
      if constexpr (is_float) {
        // Two passes per output: the max, then sum exp(x - max); exact for |x| ~ 1e4 where
        // a naive exp overflows.
        const T* xp = base_ptr<T>(x);
        T* op_ = base_ptr<T>(out);
        ReducePlan p = plan(x, axes);
        for_each_element<2>(out.shape(), {&x.strides(), &out.strides()}, {x.offset(), out.offset()},
                            [&](const Offsets<2>& o) {
                              double m = -std::numeric_limits<double>::infinity();
                              // NaN wins, as in amax (std::max would drop it and let an
                              // all-NaN row come out as -inf).
                              for_each_element<1>(p.rshape, {&p.rstrides}, {o[0]}, [&](const Offsets<1>& r) {
                                const double v = static_cast<double>(xp[r[0]]);
                                if (v != v || v > m) m = v;
                              });
                              if (!std::isfinite(m)) {
                                op_[o[1]] = static_cast<T>(m);
                                return;
                              }
                              double s = 0;
                              for_each_element<1>(p.rshape, {&p.rstrides}, {o[0]}, [&](const Offsets<1>& r) {
                                s += std::exp(static_cast<double>(xp[r[0]]) - m);
                              });
                              op_[o[1]] = static_cast<T>(m + std::log(s));
                            });
        return;
      }
      break;
    }
  }
  throw Error("reduce: op not implemented for this dtype");
}

// Walks every 1-d line along `axis`: f(x_offset, out_offset) per line.
template <typename F>
void for_each_line(const Tensor& x, const Tensor& out, int64_t axis, F f) {
  Shape outer = x.shape();
  outer[axis] = 1;
  for_each_element<2>(outer, {&x.strides(), &out.strides()}, {x.offset(), out.offset()},
                      [&](const Offsets<2>& o) { f(o[0], o[1]); });
}

constexpr int64_t kSumBlockRows = 4096;

// Sums of a contiguous x over a leading or a trailing block of axes: row by row in memory
// order, instead of element by element of the output (which strides across rows and misses
// the cache once per element). Accumulates in double (int64 for integers), as the generic path.
template <typename T>
bool sum_contiguous(const Tensor& x, const Axes& axes, const Tensor& out) {
  const int64_t nd = x.dim();
  if (!x.is_contiguous() || !out.is_contiguous() || axes.empty()) return false;
  bool prefix = true, suffix = true;
  for (size_t i = 0; i < axes.size(); ++i) {
    prefix = prefix && axes[i] == static_cast<int64_t>(i);
    suffix = suffix && axes[i] == nd - static_cast<int64_t>(axes.size()) + static_cast<int64_t>(i);
  }
  if (!prefix && !suffix) return false;
  int64_t reduced = 1;
  for (int64_t a : axes) reduced *= x.shape()[a];
  const int64_t kept = out.numel();  // an empty reduced block still leaves zeros to write
  using A = Acc<T>;
  const T* xp = x.data_ptr<T>();
  auto store = [&](int64_t i, A v) {
    if (out.dtype() == DType::i64) out.data_ptr<int64_t>()[i] = static_cast<int64_t>(v);
    else if constexpr (!std::is_same_v<T, bool>) out.data_ptr<T>()[i] = static_cast<T>(v);
  };
  if (prefix && kept < 64 && reduced > kSumBlockRows) {
    // Few long columns (a full sum, say): fixed blocks of rows summed in parallel, then the
    // block sums in block order, so the result does not depend on the thread count.
    const int64_t blocks = (reduced + kSumBlockRows - 1) / kSumBlockRows;
    std::vector<A> partial(blocks * kept, A(0));
    parallel_for(blocks, std::max<int64_t>(1, kParallelGrain / (kSumBlockRows * kept)), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        A* acc = partial.data() + b * kept;
        const int64_t r0 = b * kSumBlockRows, r1 = std::min(reduced, (b + 1) * kSumBlockRows);
        if (kept == 1) {
          // A full sum: 8 interleaved accumulators break the add-latency chain (and
          // vectorise), combined in a fixed order.
          A lane[8] = {};
          int64_t r = r0;
          for (; r + 8 <= r1; r += 8)
            for (int l = 0; l < 8; ++l) lane[l] += static_cast<A>(xp[r + l]);
          for (; r < r1; ++r) lane[0] += static_cast<A>(xp[r]);
          acc[0] = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
          continue;
        }
        for (int64_t r = r0; r < r1; ++r) {
          const T* row = xp + r * kept;
          for (int64_t j = 0; j < kept; ++j) acc[j] += static_cast<A>(row[j]);
        }
      }
    });
    for (int64_t j = 0; j < kept; ++j) {
      A total = 0;
      for (int64_t b = 0; b < blocks; ++b) total += partial[b * kept + j];
      store(j, total);
    }
  } else if (prefix) {
    // Columns split over the threads; each column is summed in row order.
    parallel_for(kept, std::max<int64_t>(8, kParallelGrain / std::max<int64_t>(reduced, 1)), [&](int64_t j0, int64_t j1) {
      std::vector<A> acc(j1 - j0, A(0));
      for (int64_t r = 0; r < reduced; ++r) {
        const T* row = xp + r * kept;
        for (int64_t j = j0; j < j1; ++j) acc[j - j0] += static_cast<A>(row[j]);
      }
      for (int64_t j = j0; j < j1; ++j) store(j, acc[j - j0]);
    });
  } else {
    parallel_for(kept, std::max<int64_t>(1, kParallelGrain / std::max<int64_t>(reduced, 1)), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const T* row = xp + i * reduced;
        A acc = 0;
        for (int64_t j = 0; j < reduced; ++j) acc += static_cast<A>(row[j]);
        store(i, acc);
      }
    });
  }
  return true;
}

}  // namespace

// max or min of a whole contiguous tensor in one plain pass (index bounds checks run this
// on every gather and scatter); NaN wins, as in the generic path.
template <typename T>
bool extremum_contiguous(ReduceOp op, const Tensor& x, const Axes& axes, const Tensor& out) {
  if (!x.is_contiguous() || static_cast<int64_t>(axes.size()) != x.dim() || x.numel() == 0) return false;
  if constexpr (std::is_same_v<T, bool>) {
    return false;
  } else {
    const T* __restrict__ xp = x.data_ptr<T>();
    const int64_t n = x.numel();
    T best = xp[0];
    bool nan = false;
    if (op == ReduceOp::max) {
      for (int64_t i = 0; i < n; ++i) best = xp[i] > best ? xp[i] : best;
    } else {
      for (int64_t i = 0; i < n; ++i) best = xp[i] < best ? xp[i] : best;
    }
    if constexpr (std::is_floating_point_v<T>)
      for (int64_t i = 0; i < n; ++i) nan = nan || xp[i] != xp[i];
    *out.data_ptr<T>() = nan ? std::numeric_limits<T>::quiet_NaN() : best;
    return true;
  }
}

void CpuBackend::reduce(ReduceOp op, const Tensor& x, const Axes& axes, const Tensor& out) {
  dispatch_all(x.dtype(), [&]<typename T>() {
    if (op == ReduceOp::sum && sum_contiguous<T>(x, axes, out)) return;
    if ((op == ReduceOp::max || op == ReduceOp::min) && extremum_contiguous<T>(op, x, axes, out)) return;
    reduce_typed<T>(op, x, axes, out);
  });
}

void CpuBackend::softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) {
  dispatch_float(x.dtype(), "softmax", [&]<typename T>() {
    const T* xp = base_ptr<T>(x);
    T* op = base_ptr<T>(out);
    const int64_t n = x.shape()[axis], xs = x.strides()[axis], os = out.strides()[axis];
    for_each_line(x, out, axis, [&](int64_t xo, int64_t oo) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t i = 0; i < n; ++i) m = std::max(m, static_cast<double>(xp[xo + i * xs]));
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += std::exp(static_cast<double>(xp[xo + i * xs]) - m);
      if (log) {
        const double lse = m + std::log(s);
        for (int64_t i = 0; i < n; ++i) op[oo + i * os] = static_cast<T>(xp[xo + i * xs] - lse);
      } else {
        for (int64_t i = 0; i < n; ++i)
          op[oo + i * os] = static_cast<T>(std::exp(static_cast<double>(xp[xo + i * xs]) - m) / s);
      }
    });
  });
}

void CpuBackend::cumsum(const Tensor& x, int64_t axis, bool exclusive, const Tensor& out) {
  dispatch_numeric(x.dtype(), "cumsum", [&]<typename T>() {
    using A = Acc<T>;
    const T* xp = base_ptr<T>(x);
    T* op = base_ptr<T>(out);
    const int64_t n = x.shape()[axis], xs = x.strides()[axis], os = out.strides()[axis];
    for_each_line(x, out, axis, [&](int64_t xo, int64_t oo) {
      A s = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (exclusive) {
          op[oo + i * os] = static_cast<T>(s);
          s += static_cast<A>(xp[xo + i * xs]);
        } else {
          s += static_cast<A>(xp[xo + i * xs]);
          op[oo + i * os] = static_cast<T>(s);
        }
      }
    });
  });
}

void CpuBackend::topk(const Tensor& x, int64_t k, int64_t axis, const Tensor& values,
                      const Tensor& indices) {
  dispatch_numeric(x.dtype(), "topk", [&]<typename T>() {
    const T* xp = base_ptr<T>(x);
    T* vp = base_ptr<T>(values);
    int64_t* ip = base_ptr<int64_t>(indices);
    const int64_t n = x.shape()[axis], xs = x.strides()[axis];
    const int64_t vs = values.strides()[axis], is = indices.strides()[axis];
    std::vector<int64_t> order(n);
    Shape outer = x.shape();
    outer[axis] = 1;
    for_each_element<3>(outer, {&x.strides(), &values.strides(), &indices.strides()},
                        {x.offset(), values.offset(), indices.offset()}, [&](const Offsets<3>& o) {
                          std::iota(order.begin(), order.end(), 0);
                          // NaN sorts first (largest), as in torch.topk; ties keep the lower index.
                          auto greater = [&](int64_t a, int64_t b) {
                            T va = xp[o[0] + a * xs], vb = xp[o[0] + b * xs];
                            bool na = va != va, nb = vb != vb;
                            if (na != nb) return na;
                            if (!na && va != vb) return va > vb;
                            return a < b;
                          };
                          std::partial_sort(order.begin(), order.begin() + k, order.end(), greater);
                          for (int64_t j = 0; j < k; ++j) {
                            vp[o[1] + j * vs] = xp[o[0] + order[j] * xs];
                            ip[o[2] + j * is] = order[j];
                          }
                        });
  });
}

}  // namespace moegrad::cpu
