// Fused kernels for the hot composites of MoE training: GEGLU, RMSNorm and the Adam step.
// Each reads its inputs once; accumulations over a row are in double.
// GEGLU in float32 uses the vectorisable exp/cdf of vector_math.h; float64 keeps libm.
#include <cmath>
#include <numbers>
#include <type_traits>

#include "core/cpu/cpu_backend.h"
#include "core/cpu/parallel.h"
#include "core/cpu/vector_math.h"

namespace moegrad::cpu {

namespace {
constexpr double kInvSqrt2 = std::numbers::sqrt2 / 2;
constexpr double kInvSqrt2Pi = std::numbers::inv_sqrtpi / std::numbers::sqrt2;

// One row of float32 GEGLU: no libm call in the loop, so it vectorises. The pointers are
// __restrict__ parameters because GCC 12 ignores the qualifier on block-scope pointers here
// (it still versioned the loop with an aliasing check), but honours it on parameters.
void geglu_row_f32(const float* __restrict__ value, const float* __restrict__ gate, float* __restrict__ cdf,
                   float* __restrict__ out, int64_t h) {
  for (int64_t i = 0; i < h; ++i) {
    const float phi = normal_cdf_f32(gate[i]);
    cdf[i] = phi;
    out[i] = gate[i] * phi * value[i];
  }
}

void geglu_backward_row_f32(const float* __restrict__ value, const float* __restrict__ gate,
                            const float* __restrict__ cdf, const float* __restrict__ grad_out,
                            float* __restrict__ d_value, float* __restrict__ d_gate, int64_t h) {
  for (int64_t i = 0; i < h; ++i) {
    const float z = gate[i], phi_cdf = cdf[i], g = grad_out[i];
    d_value[i] = g * z * phi_cdf;
    d_gate[i] = g * value[i] * (phi_cdf + z * normal_pdf_f32(z));
  }
}
}  // namespace

void CpuBackend::geglu(const Tensor& x, const Tensor& out, const Tensor& cdf) {
  dispatch_float(x.dtype(), "geglu", [&]<typename T>() {
    const int64_t h = out.size(-1), rows = out.numel() / std::max<int64_t>(h, 1);
    const T* xp = x.data_ptr<T>();
    T* op = out.data_ptr<T>();
    T* cp = cdf.data_ptr<T>();
    parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(h, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* value = xp + r * 2 * h;
        const T* gate = value + h;
        if constexpr (std::is_same_v<T, float>) {
          geglu_row_f32(value, gate, cp + r * h, op + r * h, h);
        } else {
          for (int64_t i = 0; i < h; ++i) {
            const T phi = T(0.5) * (T(1) + std::erf(gate[i] * T(kInvSqrt2)));
            cp[r * h + i] = phi;
            op[r * h + i] = gate[i] * phi * value[i];
          }
        }
      }
    });
  });
}

void CpuBackend::geglu_backward(const Tensor& x, const Tensor& cdf, const Tensor& grad_out, const Tensor& grad_x) {
  dispatch_float(x.dtype(), "geglu_backward", [&]<typename T>() {
    const int64_t h = cdf.size(-1), rows = cdf.numel() / std::max<int64_t>(h, 1);
    const T* xp = x.data_ptr<T>();
    const T* cp = cdf.data_ptr<T>();
    const T* gp = grad_out.data_ptr<T>();
    T* dp = grad_x.data_ptr<T>();
    parallel_for(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(h, 1)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* value = xp + r * 2 * h;
        const T* gate = value + h;
        T* d_value = dp + r * 2 * h;
        T* d_gate = d_value + h;
        if constexpr (std::is_same_v<T, float>) {
          geglu_backward_row_f32(value, gate, cp + r * h, gp + r * h, d_value, d_gate, h);
        } else {
          for (int64_t i = 0; i < h; ++i) {
            const T z = gate[i], phi_cdf = cp[r * h + i], g = gp[r * h + i];
            const T pdf = std::exp(T(-0.5) * z * z) * T(kInvSqrt2Pi);
            d_value[i] = g * z * phi_cdf;
            d_gate[i] = g * value[i] * (phi_cdf + z * pdf);
          }
        }
      }
    });
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
