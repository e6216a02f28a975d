#pragma once
// Tensor: a handle to (storage, shape, strides, offset, dtype). Copies of a handle share
// everything, as in PyTorch; views share the storage only.
//
// core/ knows nothing of gradients. A tensor carries an opaque slot for the autograd
// layer's metadata; only autograd/ dereferences it. Every op is a free function: the
// raw ones live in moegrad::core, the differentiable ones users call in moegrad.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <vector>

#include "moegrad/core/device.h"
#include "moegrad/core/dtype.h"
#include "moegrad/core/shape.h"
#include "moegrad/core/storage.h"

namespace moegrad {

class Backend;
struct AutogradMeta;  // defined in autograd/, opaque here

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;  // in elements
  int64_t offset = 0;  // in elements
  DType dtype = DType::f32;
  std::shared_ptr<AutogradMeta> autograd_meta;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const { return shape_numel(impl().shape); }
  bool is_contiguous() const;
  Backend& backend() const { return impl().storage->backend(); }
  Device device() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }

  // Raw element pointer (first element of this view) for kernels of the owning backend.
  template <typename T>
  T* data_ptr() const {
    MOEGRAD_CHECK(dtype_of<T>::value == dtype(), "data_ptr: tensor is ", dtype(), ", asked for ",
                  dtype_of<T>::value);
    return static_cast<T*>(impl().storage->data()) + impl().offset;
  }
  void* raw_data() const;

  // The single value of a one-element tensor, converted to T.
  template <typename T>
  T item() const;
  // All elements in row-major order, converted to T, on the host.
  template <typename T>
  std::vector<T> to_vector() const;

  // Identity: two handles to the same tensor.
  bool same(const Tensor& other) const { return impl_ == other.impl_; }
  TensorImpl* impl_ptr() const { return impl_.get(); }
  // How many handles share this tensor (not counting views, which share only its storage).
  long handle_count() const { return impl_.use_count(); }
  std::weak_ptr<TensorImpl> weak() const { return impl_; }

  AutogradMeta* autograd_meta() const { return impl().autograd_meta.get(); }
  void set_autograd_meta(std::shared_ptr<AutogradMeta> meta) const {
    impl().autograd_meta = std::move(meta);
  }

 private:
  TensorImpl& impl() const {
    MOEGRAD_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

using TensorList = std::vector<Tensor>;

// An Error naming `op` and the two devices unless every defined tensor lives on one device:
// every op that takes several tensors calls it before touching their data.
void check_same_device(const char* op, std::initializer_list<const Tensor*> tensors);
void check_same_device(const char* op, const TensorList& tensors);

// How operator<< shows values, as torch.set_printoptions: tensors of more than `threshold`
// elements show `edgeitems` items at each end of every axis; precision 0 means the dtype's
// own (6 significant digits for float32, 10 for float64).
struct PrintOptions {
  int64_t threshold = 1000;
  int64_t edgeitems = 3;
  int precision = 0;
};
void set_print_options(const PrintOptions& options);
PrintOptions print_options();

// Shows dtype, shape and values (summarised by print_options() when large).
std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace moegrad
