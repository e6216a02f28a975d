// Fused kernels for the hot composites of MoE training: GEGLU, RMSNorm and the Adam step.
// Each reads its inputs once; accumulations over a row are in double.
// GEGLU in float32 uses the vectorisable cdf/pdf of core/scalar_formulas.h; float64 keeps libm.
#include <cmath>
#include <numbers>
#include <type_traits>
#include <vector>
#include <algorithm>

#include "moegrad/core/cpu/cpu_backend.h"
#include "moegrad/core/cpu/parallel.h"
#include "moegrad/core/scalar_formulas.h"

namespace moegrad::cpu {

namespace {
// Phi(z) and phi(z) (core/scalar_formulas.h): float32 without libm, so the row loops below
// vectorise; float64 through libm.
using scalar::normal_cdf;
using scalar::normal_pdf;

// One row of GEGLU. The pointers are __restrict__ parameters because GCC 12 ignores the
// qualifier on block-scope pointers here (it still versioned the loop with an aliasing
// check), but honours it on parameters. gelu(gate) * value is formed exactly as the
// unfused composite did, and only then scaled, so fusing the scale changes no bit.
template <typename T, bool kScale>
void geglu_row(const T* __restrict__ value, const T* __restrict__ gate, const T* __restrict__ scale,
               T* __restrict__ cdf, T* __restrict__ out, int64_t h) {
  for (int64_t i = 0; i < h; ++i) {
    const T phi = normal_cdf(gate[i]);
    cdf[i] = phi;
    const T y = gate[i] * phi * value[i];
    out[i] = kScale ? y * scale[i] : y;
  }
}

// grad_scale_acc, with kGradScale, collects grad_out * gelu(gate) * value per column in double.
template <typename T, bool kScale, bool kGradScale>
void geglu_backward_row(const T* __restrict__ value, const T* __restrict__ gate, const T* __restrict__ cdf,
                        const T* __restrict__ grad_out, const T* __restrict__ scale, T* __restrict__ d_value,
                        T* __restrict__ d_gate, double* __restrict__ grad_scale_acc, int64_t h) {
  for (int64_t i = 0; i < h; ++i) {
    const T z = gate[i], phi_cdf = cdf[i];
    const T g = kScale ? grad_out[i] * scale[i] : grad_out[i];
    d_value[i] = g * z * phi_cdf;
    d_gate[i] = g * value[i] * (phi_cdf + z * normal_pdf(z));
    if constexpr (kGradScale) grad_scale_acc[i] += static_cast<double>(grad_out[i] * (z * phi_cdf * value[i]));
  }
}

// Rows per block of the GEGLU loops: the unit of thread splitting, and of the partial
// column sums of the mult_bias gradient (summed in block order, so the result does not
// depend on the thread count).
int64_t geglu_block_rows(int64_t h) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(h, 1)); }

}  // namespace

void CpuBackend::geglu(const Tensor& x, const Tensor& mult_bias, const Tensor& out, const Tensor& cdf) {
  dispatch_float(x.dtype(), "geglu", [&]<typename T>() {
    const int64_t h = out.size(-1), rows = out.numel() / std::max<int64_t>(h, 1);
    const T* xp = x.data_ptr<T>();
    const T* sp = mult_bias.defined() ? mult_bias.data_ptr<T>() : nullptr;
    T* op = out.data_ptr<T>();
    T* cp = cdf.data_ptr<T>();
    parallel_for(rows, geglu_block_rows(h), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* value = xp + r * 2 * h;
        if (sp) geglu_row<T, true>(value, value + h, sp, cp + r * h, op + r * h, h);
        else geglu_row<T, false>(value, value + h, sp, cp + r * h, op + r * h, h);
      }
    });
  });
}

void CpuBackend::geglu_backward(const Tensor& x, const Tensor& cdf, const Tensor& mult_bias, const Tensor& grad_out,
                                const Tensor& grad_x, const Tensor& grad_mult_bias) {
  dispatch_float(x.dtype(), "geglu_backward", [&]<typename T>() {
    const int64_t h = cdf.size(-1), rows = cdf.numel() / std::max<int64_t>(h, 1);
    const T* xp = x.data_ptr<T>();
    const T* cp = cdf.data_ptr<T>();
    const T* gp = grad_out.data_ptr<T>();
    const T* sp = mult_bias.defined() ? mult_bias.data_ptr<T>() : nullptr;
    T* dp = grad_x.data_ptr<T>();
    const bool with_grad_scale = grad_mult_bias.defined();
    const int64_t block = geglu_block_rows(h), blocks = (rows + block - 1) / block;
    std::vector<double> partial(with_grad_scale ? blocks * h : 0, 0.0);
    parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        double* acc = with_grad_scale ? partial.data() + b * h : nullptr;
        for (int64_t r = b * block; r < std::min(rows, (b + 1) * block); ++r) {
          const T* value = xp + r * 2 * h;
          const T* gate = value + h;
          T* d_value = dp + r * 2 * h;
          const T* g = gp + r * h;
          if (with_grad_scale) geglu_backward_row<T, true, true>(value, gate, cp + r * h, g, sp, d_value, d_value + h, acc, h);
          else if (sp) geglu_backward_row<T, true, false>(value, gate, cp + r * h, g, sp, d_value, d_value + h, acc, h);
          else geglu_backward_row<T, false, false>(value, gate, cp + r * h, g, sp, d_value, d_value + h, acc, h);
        }
      }
    });
    if (with_grad_scale) {
      T* gs = grad_mult_bias.data_ptr<T>();
      for (int64_t i = 0; i < h; ++i) {
        double total = 0;
        for (int64_t b = 0; b < blocks; ++b) total += partial[b * h + i];
        gs[i] = static_cast<T>(total);
      }
    }
  });
}

void CpuBackend::rms_norm(const Tensor& x, double eps, double scale, const Tensor& out, const Tensor& inv_norm) {
  dispatch_float(x.dtype(), "rms_norm", [&]<typename T>() {
    const int64_t d = x.size(-1), rows = x.numel() / std::max<int64_t>(d, 1);
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    T* ip = inv_norm.data_ptr<T>();
    parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = xp + r * d;
        double sq = 0;
        for (int64_t i = 0; i < d; ++i) sq += static_cast<double>(row[i]) * row[i];
        const T inv = static_cast<T>(1.0 / std::max(std::sqrt(sq), eps));
        ip[r] = inv;
        const T k = static_cast<T>(scale) * inv;
        for (int64_t i = 0; i < d; ++i) op[r * d + i] = row[i] * k;
      }
    });
  });
}

void CpuBackend::rms_norm_backward(const Tensor& x, const Tensor& inv_norm, double eps, double scale,
                                   const Tensor& grad_out, const Tensor& grad_x) {
  dispatch_float(x.dtype(), "rms_norm_backward", [&]<typename T>() {
    const int64_t d = x.size(-1), rows = x.numel() / std::max<int64_t>(d, 1);
    const T* xp = x.data_ptr<T>();
    const T* ip = inv_norm.data_ptr<T>();
    const T* gp = grad_out.data_ptr<T>();
    T* dp = grad_x.data_ptr<T>();
    parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(d, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = xp + r * d;
        const T* g = gp + r * d;
        const double inv = ip[r];
        // Below eps the denominator is the constant eps: no term through the norm.
        const bool clamped = inv >= 1.0 / eps;
        double dot = 0;
        if (!clamped)
          for (int64_t i = 0; i < d; ++i) dot += static_cast<double>(g[i]) * row[i];
        const T a = static_cast<T>(scale * inv), b = static_cast<T>(scale * inv * inv * inv * dot);
        for (int64_t i = 0; i < d; ++i) dp[r * d + i] = a * g[i] - b * row[i];
      }
    });
  });
}

void CpuBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                           const Tensor& max_exp_avg_sq, const AdamStep& s) {
  dispatch_float(param.dtype(), "adam_step", [&]<typename T>() {
    T* p = param.data_ptr<T>();
    const T* g = grad.data_ptr<T>();
    T* m = exp_avg.data_ptr<T>();
    T* v = exp_avg_sq.data_ptr<T>();
    T* vmax = s.amsgrad ? max_exp_avg_sq.data_ptr<T>() : nullptr;
    // The constants in the parameter's dtype, as torch's tensor ops apply them.
    const T decay = static_cast<T>(1.0 - s.lr * s.weight_decay), wd = static_cast<T>(s.weight_decay);
    const T b1 = static_cast<T>(s.beta1), c1 = static_cast<T>(1.0 - s.beta1);
    const T b2 = static_cast<T>(s.beta2), c2 = static_cast<T>(1.0 - s.beta2);
    const T bc2_sqrt = static_cast<T>(std::sqrt(s.bias_correction2)), eps = static_cast<T>(s.eps);
    const T step_size = static_cast<T>(s.lr / s.bias_correction1);
    // Branches hoisted out of the loops, so each loop vectorises.
    const bool decay_param = s.weight_decay != 0.0 && s.decoupled;
    const bool decay_grad = s.weight_decay != 0.0 && !s.decoupled;
    parallel_for(param.numel(), 32768, [&](int64_t i0, int64_t i1) {
      T* __restrict__ pp = p;
      T* __restrict__ mm = m;
      T* __restrict__ vv = v;
      const T* __restrict__ gg = g;
      if (decay_param)
        for (int64_t i = i0; i < i1; ++i) pp[i] = pp[i] * decay;
      for (int64_t i = i0; i < i1; ++i) {
        const T gi = decay_grad ? gg[i] + pp[i] * wd : gg[i];
        mm[i] = mm[i] * b1 + gi * c1;
        vv[i] = vv[i] * b2 + gi * gi * c2;
      }
      const T* second = vv;
      if (vmax) {
        for (int64_t i = i0; i < i1; ++i) vmax[i] = std::max(vmax[i], vv[i]);
        second = vmax;
      }
      for (int64_t i = i0; i < i1; ++i) pp[i] = pp[i] - mm[i] / (std::sqrt(second[i]) / bc2_sqrt + eps) * step_size;
    });
  });
}

}  // namespace moegrad::cpu
