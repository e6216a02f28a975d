#pragma once
// The device seam. Ops in core/ check shapes and dtypes, allocate results and then ask
// the tensor's Backend to do the arithmetic; nothing above core/ sees a device.
// A CUDA backend implements this same interface.
//
// Contract for every kernel: inputs may be any strided view (including stride-0
// broadcasts); outputs are freshly allocated and contiguous unless stated otherwise;
// shapes and dtypes have already been checked by the caller.
#include <cstddef>
#include <cstdint>

#include "moegrad/core/device.h"
#include "moegrad/core/shape.h"
#include "moegrad/core/tensor.h"

namespace moegrad {

enum class UnaryOp : uint8_t {
  neg, exp, log, sqrt, abs, relu, gelu, gelu_grad, sigmoid, tanh, erf,
  pow_scalar,  // x ** p.a
  clamp,       // min(max(x, p.a), p.b)
  sign,
  logical_not,
};

struct UnaryParams {
  double a = 0.0;
  double b = 0.0;
};

enum class BinaryOp : uint8_t {
  add, sub, mul, div, pow, maximum, minimum,
  eq, ne, lt, le, gt, ge,  // produce bool
  logical_and, logical_or,
};

enum class ReduceOp : uint8_t { sum, max, min, argmax, argmin, logsumexp };

struct AdamStep {
  double lr, beta1, beta2, eps, weight_decay;
  bool decoupled;  // AdamW: p *= 1 - lr wd; Adam: g += wd p
  bool amsgrad;    // max_exp_avg_sq is used (and defined) only then
  double bias_correction1, bias_correction2;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Device device() const = 0;

  virtual void* allocate(size_t nbytes) = 0;
  virtual void deallocate(void* ptr, size_t nbytes) noexcept = 0;
  virtual void copy_from_host(void* dst, const void* host_src, size_t nbytes) = 0;
  // Every read back to the host goes through here and is counted: on a GPU each one is a
  // full synchronisation, so hot paths are held to a fixed number per step (host_reads()).
  void copy_to_host(void* host_dst, const void* src, size_t nbytes) {
    count_host_read();
    read_to_host(host_dst, src, nbytes);
  }

  // out[i] = convert(src[i]) over out's shape; src has out's shape (possibly broadcast
  // strides) and any dtype. `out` may be a non-contiguous view (assignment into a view).
  virtual void copy(const Tensor& src, const Tensor& out) = 0;
  virtual void fill(const Tensor& out, double value) = 0;
  virtual void arange(const Tensor& out, double start, double step) = 0;

  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) = 0;
  // a and b are already broadcast to out's shape.
  virtual void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) = 0;
  virtual void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) = 0;

  // Reduces `axes` (sorted, unique) of x into out, which has x's shape with those axes 1.
  virtual void reduce(ReduceOp op, const Tensor& x, const Axes& axes, const Tensor& out) = 0;
  virtual void softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) = 0;
  virtual void cumsum(const Tensor& x, int64_t axis, bool exclusive, const Tensor& out) = 0;
  // Descending along axis, ties to the lower index.
  virtual void topk(const Tensor& x, int64_t k, int64_t axis, const Tensor& values,
                    const Tensor& indices) = 0;

  // a (B..., m, k) and b (B..., k, n) with batch dims already broadcast to out (B..., m, n).
  // With accumulate, out += a b: out already holds values (a bias, as in torch's addmm).
  virtual void matmul(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) = 0;

  // out[..., i, ...] = x[..., index[..., i, ...], ...] along axis; index has out's shape.
  virtual void gather(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) = 0;
  // In place: out[..., index[j], ...] += src[j] along axis; index has src's shape.
  virtual void scatter_add(const Tensor& out, int64_t axis, const Tensor& index,
                           const Tensor& src) = 0;

  // Fused kernels: one pass where the composite would take several. All tensors contiguous.
  // x (rows, 2h) = [value | gate]: out = gelu(gate) * value * mult_bias (h), cdf = Phi(gate),
  // both (rows, h); an undefined mult_bias stands for ones.
  virtual void geglu(const Tensor& x, const Tensor& mult_bias, const Tensor& out, const Tensor& cdf) = 0;
  // grad_x (rows, 2h) from grad_out (rows, h), with g = grad_out * mult_bias:
  // [g gelu(gate) | g value (Phi + gate phi)]; grad_mult_bias (h), when defined, is the
  // column sum of grad_out * gelu(gate) * value.
  virtual void geglu_backward(const Tensor& x, const Tensor& cdf, const Tensor& mult_bias,
                              const Tensor& grad_out, const Tensor& grad_x,
                              const Tensor& grad_mult_bias) = 0;
  // Per row of x (rows, d): out = x * scale / max(||x||, eps), inv_norm = 1 / max(||x||, eps).
  virtual void rms_norm(const Tensor& x, double eps, double scale, const Tensor& out,
                        const Tensor& inv_norm) = 0;
  // grad_x = scale inv (g - x inv^2 <g, x>) for rows whose norm exceeded eps, scale inv g else.
  virtual void rms_norm_backward(const Tensor& x, const Tensor& inv_norm, double eps, double scale,
                                 const Tensor& grad_out, const Tensor& grad_x) = 0;
  // One Adam/AdamW update of a parameter in place (torch.optim's single-tensor formulas).
  virtual void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                         const Tensor& exp_avg_sq, const Tensor& max_exp_avg_sq,
                         const AdamStep& step) = 0;

 protected:
  virtual void read_to_host(void* host_dst, const void* src, size_t nbytes) = 0;

 private:
  static void count_host_read();
};

// Reads back to the host (Backend::copy_to_host calls) by this process, on every backend;
// tests and `moegrad bench` take differences of it around a step.
uint64_t host_reads();

Backend& cpu_backend();

}  // namespace moegrad
