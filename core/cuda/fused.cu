// The fused kernels of core/cpu/fused.cpp (GEGLU forward and backward, RMSNorm forward
// and backward, the Adam step) with its arithmetic, element for element. The column sums
// of the mult_bias gradient use the CPU's row blocks (geglu_block_rows), block partials
// summed in block order, so they are bitwise the CPU's whatever its thread count.
#include <algorithm>
#include <cmath>

#include "moegrad/core/cuda/backend_impl.h"
#include "moegrad/core/cuda/launch.h"
#include "moegrad/core/scalar_formulas.h"

namespace moegrad::cuda {

using scalar::gelu;
using scalar::gelu_grad;
using scalar::normal_cdf;
using scalar::normal_pdf;
using scalar::sigmoid;

namespace {

// Must equal the CPU's geglu_block_rows (core/cpu/fused.cpp): the order of the column sums.
int64_t geglu_block_rows(int64_t h) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(h, 1)); }

template <typename T>
__global__ void geglu_kernel(int64_t rows, int64_t h, const T* x, const T* scale, T* out, T* cdf) {
  for (int64_t e = grid_first(); e < rows * h; e += grid_stride()) {
    const int64_t r = e / h, i = e % h;
    const T value = x[r * 2 * h + i], gate = x[r * 2 * h + h + i];
    const T phi = normal_cdf(gate);
    cdf[e] = phi;
    const T y = gate * phi * value;
    out[e] = scale ? y * scale[i] : y;
  }
}

template <typename T>
__global__ void geglu_backward_kernel(int64_t rows, int64_t h, const T* x, const T* cdf, const T* grad_out,
                                      const T* scale, T* grad_x) {
  for (int64_t e = grid_first(); e < rows * h; e += grid_stride()) {
    const int64_t r = e / h, i = e % h;
    const T value = x[r * 2 * h + i], z = x[r * 2 * h + h + i], phi_cdf = cdf[e];
    const T g = scale ? grad_out[e] * scale[i] : grad_out[e];
    grad_x[r * 2 * h + i] = g * z * phi_cdf;
    grad_x[r * 2 * h + h + i] = g * value * (phi_cdf + z * normal_pdf(z));
  }
}

// One thread per column: per-block sums in double, then the blocks in order.
template <typename T>
__global__ void geglu_grad_scale_kernel(int64_t rows, int64_t h, int64_t block, const T* x, const T* cdf,
                                        const T* grad_out, T* grad_scale) {
  for (int64_t i = grid_first(); i < h; i += grid_stride()) {
    double total = 0;
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      double acc = 0.0;
      for (int64_t r = r0; r < r0 + block && r < rows; ++r) {
        const T value = x[r * 2 * h + i], z = x[r * 2 * h + h + i], phi_cdf = cdf[r * h + i];
        acc += static_cast<double>(grad_out[r * h + i] * (z * phi_cdf * value));
      }
      total += acc;
    }
    grad_scale[i] = static_cast<T>(total);
  }
}

template <typename T>
__global__ void rms_norm_kernel(int64_t rows, int64_t d, double eps, double scale, const T* x, T* out, T* inv_norm) {
  for (int64_t r = grid_first(); r < rows; r += grid_stride()) {
    const T* row = x + r * d;
    double sq = 0;
    for (int64_t i = 0; i < d; ++i) sq += static_cast<double>(row[i]) * row[i];
    const double norm = std::sqrt(sq);
    const T inv = static_cast<T>(1.0 / (norm < eps ? eps : norm));  // std::max(norm, eps)
    inv_norm[r] = inv;
    const T k = static_cast<T>(scale) * inv;
    for (int64_t i = 0; i < d; ++i) out[r * d + i] = row[i] * k;
  }
}

template <typename T>
__global__ void rms_norm_backward_kernel(int64_t rows, int64_t d, double eps, double scale, const T* x,
                                         const T* inv_norm, const T* grad_out, T* grad_x) {
  for (int64_t r = grid_first(); r < rows; r += grid_stride()) {
    const T* row = x + r * d;
    const T* g = grad_out + r * d;
    const double inv = inv_norm[r];
    const bool clamped = inv >= 1.0 / eps;  // below eps the norm is the constant eps
    double dot = 0;
    if (!clamped)
      for (int64_t i = 0; i < d; ++i) dot += static_cast<double>(g[i]) * row[i];
    const T a = static_cast<T>(scale * inv), b = static_cast<T>(scale * inv * inv * inv * dot);
    for (int64_t i = 0; i < d; ++i) grad_x[r * d + i] = a * g[i] - b * row[i];
  }
}

// The step's constants, already in the parameter's dtype as the CPU forms them.
template <typename T>
struct AdamConstants {
  T decay, wd, b1, c1, b2, c2, bc2_sqrt, eps, step_size;
  bool decay_param, decay_grad;
};

template <typename T>
__global__ void adam_kernel(int64_t n, AdamConstants<T> k, T* p, const T* g, T* m, T* v, T* vmax) {
  for (int64_t i = grid_first(); i < n; i += grid_stride()) {
    T pi = p[i];
    if (k.decay_param) pi = pi * k.decay;
    const T gi = k.decay_grad ? g[i] + pi * k.wd : g[i];
    const T mi = m[i] * k.b1 + gi * k.c1;
    const T vi = v[i] * k.b2 + gi * gi * k.c2;
    m[i] = mi;
    v[i] = vi;
    T second = vi;
    if (vmax) {
      const T mx = vmax[i] < vi ? vi : vmax[i];  // std::max(vmax, v)
      vmax[i] = mx;
      second = mx;
    }
    p[i] = pi - mi / (std::sqrt(second) / k.bc2_sqrt + k.eps) * k.step_size;
  }
}

}  // namespace

void CudaBackend::geglu(const Tensor& x, const Tensor& mult_bias, const Tensor& out, const Tensor& cdf) {
  ctx_.activate("geglu");
  dispatch_float(x.dtype(), "geglu", [&]<typename T>() {
    const int64_t h = out.size(-1), rows = out.numel() / std::max<int64_t>(h, 1);
    const T* sp = mult_bias.defined() ? mult_bias.data_ptr<T>() : nullptr;
    launch(ctx_, "geglu", rows * h, geglu_kernel<T>, rows, h, x.data_ptr<T>(), sp, out.data_ptr<T>(), cdf.data_ptr<T>());
  });
}

void CudaBackend::geglu_backward(const Tensor& x, const Tensor& cdf, const Tensor& mult_bias, const Tensor& grad_out,
                                 const Tensor& grad_x, const Tensor& grad_mult_bias) {
  ctx_.activate("geglu_backward");
  dispatch_float(x.dtype(), "geglu_backward", [&]<typename T>() {
    const int64_t h = cdf.size(-1), rows = cdf.numel() / std::max<int64_t>(h, 1);
    const T* sp = mult_bias.defined() ? mult_bias.data_ptr<T>() : nullptr;
    launch(ctx_, "geglu_backward", rows * h, geglu_backward_kernel<T>, rows, h, x.data_ptr<T>(), cdf.data_ptr<T>(),
           grad_out.data_ptr<T>(), sp, grad_x.data_ptr<T>());
    if (grad_mult_bias.defined())
      launch(ctx_, "geglu_backward", h, geglu_grad_scale_kernel<T>, rows, h, geglu_block_rows(h), x.data_ptr<T>(),
             cdf.data_ptr<T>(), grad_out.data_ptr<T>(), grad_mult_bias.data_ptr<T>());
  });
}

void CudaBackend::rms_norm(const Tensor& x, double eps, double scale, const Tensor& out, const Tensor& inv_norm) {
  ctx_.activate("rms_norm");
  dispatch_float(x.dtype(), "rms_norm", [&]<typename T>() {
    const int64_t d = x.size(-1), rows = x.numel() / std::max<int64_t>(d, 1);
    launch(ctx_, "rms_norm", rows, rms_norm_kernel<T>, rows, d, eps, scale, x.data_ptr<T>(), out.data_ptr<T>(),
           inv_norm.data_ptr<T>());
  });
}

void CudaBackend::rms_norm_backward(const Tensor& x, const Tensor& inv_norm, double eps, double scale,
                                    const Tensor& grad_out, const Tensor& grad_x) {
  ctx_.activate("rms_norm_backward");
  dispatch_float(x.dtype(), "rms_norm_backward", [&]<typename T>() {
    const int64_t d = x.size(-1), rows = x.numel() / std::max<int64_t>(d, 1);
    launch(ctx_, "rms_norm_backward", rows, rms_norm_backward_kernel<T>, rows, d, eps, scale, x.data_ptr<T>(),
           inv_norm.data_ptr<T>(), grad_out.data_ptr<T>(), grad_x.data_ptr<T>());
  });
}

void CudaBackend::adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg, const Tensor& exp_avg_sq,
                            const Tensor& max_exp_avg_sq, const AdamStep& s) {
  ctx_.activate("adam_step");
  dispatch_float(param.dtype(), "adam_step", [&]<typename T>() {
    AdamConstants<T> k;
    k.decay = static_cast<T>(1.0 - s.lr * s.weight_decay);
    k.wd = static_cast<T>(s.weight_decay);
    k.b1 = static_cast<T>(s.beta1);
    k.c1 = static_cast<T>(1.0 - s.beta1);
    k.b2 = static_cast<T>(s.beta2);
    k.c2 = static_cast<T>(1.0 - s.beta2);
    k.bc2_sqrt = static_cast<T>(std::sqrt(s.bias_correction2));
    k.eps = static_cast<T>(s.eps);
    k.step_size = static_cast<T>(s.lr / s.bias_correction1);
    k.decay_param = s.weight_decay != 0.0 && s.decoupled;
    k.decay_grad = s.weight_decay != 0.0 && !s.decoupled;
    T* vmax = s.amsgrad ? max_exp_avg_sq.data_ptr<T>() : nullptr;
    launch(ctx_, "adam_step", param.numel(), adam_kernel<T>, param.numel(), k, param.data_ptr<T>(),
           grad.data_ptr<T>(), exp_avg.data_ptr<T>(), exp_avg_sq.data_ptr<T>(), vmax);
  });
}

}  // namespace moegrad::cuda
