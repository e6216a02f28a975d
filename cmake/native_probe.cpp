// Built and run at configure time with -march=native: GCC 12.2 on AMD Zen 4 (which it
// takes for znver3 with AVX-512) miscompiled this, every element coming out 1.
#include <cstddef>
#include <cstdint>
#include <vector>
template <typename D, typename T>
__attribute__((noinline)) std::vector<D> convert(const std::vector<T>& values) {
  std::vector<D> out(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) out[i] = static_cast<D>(values[i]);
  return out;
}
int main() {
  const std::vector<int64_t> v = convert<int64_t>(std::vector<int64_t>{1, 1, 1, 1, 1, 0, 0, 0});
  int64_t sum = 0;
  for (int64_t x : v) sum += x;
  return sum == 5 ? 0 : 1;
}
