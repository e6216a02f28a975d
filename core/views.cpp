#include "moegrad/core/views.h"

#include <algorithm>

#include "moegrad/core/checked_math.h"

#include "moegrad/core/backend.h"
#include "moegrad/core/creation.h"

namespace moegrad::core {

Tensor as_strided(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset) {
  shape_numel(shape, "view");  // every view's element count must be a count (expand can inflate it)
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = x.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = x.dtype();
  return Tensor(std::move(impl));
}

Tensor alias(const Tensor& x) { return as_strided(x, x.shape(), x.strides(), x.offset()); }

namespace {
Shape infer_shape(const Shape& shape, int64_t numel, const Shape& from, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer_at = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      MOEGRAD_CHECK(infer_at < 0, op, ": only one dim may be -1, got ", shape);
      infer_at = static_cast<int64_t>(i);
    } else {
      MOEGRAD_CHECK(out[i] >= 0, op, ": invalid size in ", shape);
      MOEGRAD_CHECK(!__builtin_mul_overflow(known, out[i], &known), op, ": shape ", shape,
                    " has more elements than a 64-bit count holds");
    }
  }
  if (infer_at >= 0) {
    MOEGRAD_CHECK(known != 0 && numel % known == 0, op, ": cannot view shape ", from, " as ",
                  shape);
    out[infer_at] = numel / known;
  }
  MOEGRAD_CHECK(shape_numel(out, op) == numel, op, ": shape ", shape, " is invalid for a tensor of shape ",
                from, " (", numel, " elements)");
  return out;
}

// Strides for viewing x as `shape` without a copy, or empty when impossible. Groups of
// input dims that are contiguous among themselves map onto groups of output dims
// (the rule torch.Tensor.view follows).
bool view_strides(const Tensor& x, const Shape& shape, Shape& out) {
  const Shape& old_shape = x.shape();
  const Shape& old_strides = x.strides();
  out.assign(shape.size(), 0);
  if (x.numel() == 0 || x.dim() == 0) {
    out = contiguous_strides(shape);
    return true;
  }
  int64_t view_d = static_cast<int64_t>(shape.size()) - 1;
  int64_t chunk_base_stride = old_strides.empty() ? 1 : old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_shape.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    if (tensor_d == 0 ||
        (old_shape[tensor_d - 1] != 1 &&
         old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}
}  // namespace

Tensor view(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape(shape, x.numel(), x.shape(), "view");
  Shape strides;
  MOEGRAD_CHECK(view_strides(x, s, strides), "view: a tensor of shape ", x.shape(),
                " with strides ", x.strides(), " cannot be viewed as ", s,
                " without a copy; use reshape");
  return as_strided(x, s, strides, x.offset());
}

Tensor reshape(const Tensor& x, const Shape& shape) {
  Shape s = infer_shape(shape, x.numel(), x.shape(), "reshape");
  Shape strides;
  if (view_strides(x, s, strides)) return as_strided(x, s, strides, x.offset());
  Tensor c = clone(x);
  return as_strided(c, s, contiguous_strides(s), 0);
}

Tensor permute(const Tensor& x, const Axes& dims) {
  MOEGRAD_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute: got ", dims.size(),
                " dims ", dims, " for a tensor of shape ", x.shape());
  Shape shape(dims.size()), strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = normalize_dim(dims[i], x.dim(), "permute");
    MOEGRAD_CHECK(!seen[d], "permute: dim ", dims[i], " repeated in ", dims);
    seen[d] = true;
    shape[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  return as_strided(x, shape, strides, x.offset());
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  Axes dims(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[normalize_dim(dim0, x.dim(), "transpose")],
            dims[normalize_dim(dim1, x.dim(), "transpose")]);
  return permute(x, dims);
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  int64_t d = normalize_dim(dim, x.dim(), "narrow");
  int64_t n = x.shape()[d];
  if (start < 0) start += n;
  MOEGRAD_CHECK(start >= 0 && start <= n && length >= 0 && length <= n - start, "narrow: start ",
                start, " length ", length, " is outside dim ", dim, " of size ", n, " of shape ", x.shape());
  Shape shape = x.shape();
  shape[d] = length;
  return as_strided(x, shape, x.strides(), x.offset() + start * x.strides()[d]);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  int64_t d = normalize_dim(dim, x.dim(), "slice");
  MOEGRAD_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = x.shape()[d];
  auto clampi = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  int64_t s = clampi(start), e = std::max(clampi(end), clampi(start));
  Shape shape = x.shape(), strides = x.strides();
  shape[d] = e == s ? 0 : (e - s - 1) / step + 1;  // ceil((e - s) / step) without overflow
  if (shape[d] > 1) strides[d] *= step;  // step < e - s here, so the product fits
  return as_strided(x, shape, strides, x.offset() + s * x.strides()[d]);
}

Tensor expand(const Tensor& x, const Shape& shape) {
  MOEGRAD_CHECK(static_cast<int64_t>(shape.size()) >= x.dim(), "expand: cannot expand shape ",
                x.shape(), " to ", shape, " with fewer dims");
  const size_t lead = shape.size() - x.dim();
  Shape out_shape(shape.size()), strides(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      MOEGRAD_CHECK(shape[i] >= 0, "expand: new leading dim must be sized, got ", shape);
      out_shape[i] = shape[i];
      continue;
    }
    int64_t have = x.shape()[i - lead];
    int64_t want = shape[i] == -1 ? have : shape[i];
    MOEGRAD_CHECK(have == want || have == 1, "expand: shape ", x.shape(), " cannot be expanded to ",
                  shape);
    out_shape[i] = want;
    strides[i] = have == want ? x.strides()[i - lead] : 0;
  }
  return as_strided(x, out_shape, strides, x.offset());
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  int64_t d = normalize_dim(dim, x.dim(), "squeeze");
  if (x.shape()[d] != 1) return alias(x);
  Shape shape = x.shape(), strides = x.strides();
  shape.erase(shape.begin() + d);
  strides.erase(strides.begin() + d);
  return as_strided(x, shape, strides, x.offset());
}

Tensor squeeze(const Tensor& x) {
  Shape shape, strides;
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (x.shape()[i] == 1) continue;
    shape.push_back(x.shape()[i]);
    strides.push_back(x.strides()[i]);
  }
  return as_strided(x, shape, strides, x.offset());
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = normalize_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape(), strides = x.strides();
  // Cannot overflow: stride x size is within the extent as_strided checked, or 0.
  int64_t stride = d < x.dim() ? x.strides()[d] * x.shape()[d] : 1;
  shape.insert(shape.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return as_strided(x, shape, strides, x.offset());
}

Tensor flatten(const Tensor& x) { return reshape(x, {x.numel()}); }

Tensor clone(const Tensor& x) {
  Tensor out = empty(x.shape(), x.dtype(), x.backend());
  x.backend().copy(x, out);
  return out;
}

Tensor contiguous(const Tensor& x) { return x.is_contiguous() ? x : clone(x); }

}  // namespace moegrad::core
