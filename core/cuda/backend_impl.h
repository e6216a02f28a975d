#pragma once
// The CUDA implementation of the backend seam. Kernels are split by op family across the
// .cu files beside this one; every kernel is launched through launch.h.
#include "moegrad/core/backend.h"
#include "moegrad/core/cuda/context.h"
#include "moegrad/core/cuda/memory.h"

namespace moegrad::cuda {

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : ctx_(device), memory_(device) {}
  Device device() const override { return Device::cuda(ctx_.device()); }
  void* allocate(size_t nbytes) override;
  void deallocate(void* ptr, size_t nbytes) noexcept override;
  void copy_from_host(void* dst, const void* host_src, size_t nbytes) override;

  void copy(const Tensor& src, const Tensor& out) override;
  void fill(const Tensor& out, double value) override;
  void arange(const Tensor& out, double start, double step) override;

  void unary(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) override;
  void binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) override;
  void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) override;

  void reduce(ReduceOp op, const Tensor& x, const Axes& axes, const Tensor& out) override;
  void softmax(const Tensor& x, int64_t axis, bool log, const Tensor& out) override;
  void cumsum(const Tensor& x, int64_t axis, bool exclusive, const Tensor& out) override;
  void topk(const Tensor& x, int64_t k, int64_t axis, const Tensor& values,
            const Tensor& indices) override;

  void matmul(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) override;

  void gather(const Tensor& x, int64_t axis, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& out, int64_t axis, const Tensor& index,
                   const Tensor& src) override;

  void geglu(const Tensor& x, const Tensor& mult_bias, const Tensor& out, const Tensor& cdf) override;
  void geglu_backward(const Tensor& x, const Tensor& cdf, const Tensor& mult_bias, const Tensor& grad_out,
                      const Tensor& grad_x, const Tensor& grad_mult_bias) override;
  void rms_norm(const Tensor& x, double eps, double scale, const Tensor& out,
                const Tensor& inv_norm) override;
  void rms_norm_backward(const Tensor& x, const Tensor& inv_norm, double eps, double scale,
                         const Tensor& grad_out, const Tensor& grad_x) override;
  void adam_step(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const Tensor& max_exp_avg_sq,
                 const AdamStep& step) override;

  Context& context() { return ctx_; }
  DeviceMemory& memory() { return memory_; }

 protected:
  void read_to_host(void* host_dst, const void* src, size_t nbytes) override;

 private:
  Context ctx_;
  DeviceMemory memory_;
};

// Base pointer of a tensor's storage, typed; kernels add the view's offsets themselves.
template <typename T>
T* base_ptr(const Tensor& t) {
  return static_cast<T*>(t.storage()->data());
}

}  // namespace moegrad::cuda
