#pragma once
// The conformance harness: one op run on the CPU backend and on the CUDA backend over
// byte-identical storages with identical views, then every storage compared. Each operand
// lives in the middle of a larger storage; bytes of a pure output's storage outside its
// view start as a sentinel and must stay so. The CUDA run is repeated from the same
// images and must give the same bits.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "moegrad/core/backend.h"
#include "moegrad/core/tensor.h"

namespace moegrad::cuda_test {

// A view into a storage: shape, strides and offset in elements.
struct View {
  Shape shape, strides;
  int64_t offset = 0;
  int64_t storage_elems = 0;
};

// Elements of storage before and after every view.
constexpr int64_t kGuard = 5;

View contiguous(const Shape& shape);
// Last two dims stored swapped (a .transpose(-1, -2) of a contiguous tensor).
View transposed(const Shape& shape);
// Stride 0 along `dim` (an expand of a size-1 dim).
View broadcast(const Shape& shape, int64_t dim);
// Every other element along the last dim, from an odd offset (a strided slice).
View sliced(const Shape& shape);
View with_strides(const Shape& shape, const Shape& strides);
// Contiguous at the very start of its storage (offset 0, guard after it only).
View at_start(const Shape& shape);

enum class Values {
  normal,     // floats ~ N(0, 2^2); integers in [-4, 4]; bools 0/1
  special,    // as normal, with NaN, +-inf, -0.0 and large magnitudes mixed in (floats)
  positive,   // floats in [0.1, 3]; integers in [1, 4]
  nonzero,    // integers in [-4, -1] u [1, 4]; floats as normal
  index,      // integers in [0, bound)
  sentinel,   // a pure output: every byte kSentinel
};
constexpr unsigned char kSentinel = 0xA5;

// How the CUDA result must agree with the CPU's.
struct Check {
  enum Kind { exact, ulps, close } kind = exact;
  double tol = 0;
};
inline Check exact() { return {}; }
// Ops that call libm (exp, log, erf, tanh, pow): CUDA's device math may differ from
// glibc's by a few ulp on a GPU (8 ulp or 8 epsilons absolute allowed there; a first
// guess, not yet run on a GPU); the emulated build calls glibc and must match exactly.
Check transcendental();
// matmul: cuBLAS and OpenBLAS sum in different orders.
inline Check close(double rtol) { return {Check::close, rtol}; }

class Case {
 public:
  explicit Case(std::string name) : name_(std::move(name)) {}
  int input(DType dtype, const View& view, Values values = Values::normal, int64_t bound = 0);
  int output(DType dtype, const View& view) { return input(dtype, view, Values::sentinel); }
  // An operand passed as an undefined tensor (an absent optional argument).
  int none();
  using Op = std::function<void(Backend&, const std::vector<Tensor>&)>;
  void run(const Op& op, Check check = exact());
  const std::string& name() const { return name_; }

 private:
  struct Operand {
    DType dtype;
    View view;
    Values values;
    bool defined;
    std::vector<unsigned char> image;
  };
  std::string name_;
  std::vector<Operand> operands_;
};

std::string shape_str(const Shape& s);
std::vector<DType> all_dtypes();
std::vector<DType> float_dtypes();
std::vector<DType> numeric_dtypes();

}  // namespace moegrad::cuda_test
