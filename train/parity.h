#pragma once
// Runs `moe-parity/1` fixtures: builds the module named in the file from its JSON config,
// loads the parameters by name, runs the recorded forward call and the backward of
// L = sum_o sum(o * cotangent_o), and compares outputs and gradients within the
// tolerances of the format (float64: 1e-7 + 1e-6 |b|; float32: 1e-4 + 1e-3 |b|).
#include <string>
#include <string_view>
#include <vector>

#include "moegrad/core/device.h"
#include "moegrad/core/dtype.h"
#include "moegrad/moe/dispatch.h"

namespace moegrad::train {

struct ParityOptions {
  DType dtype = DType::f64;
  moe::Dispatch dispatch = moe::Dispatch::indexed;
  Device device;  // where the module runs; the fixture's tensors are moved there
};

struct TensorComparison {
  std::string name;  // "output/combine_tensor", "grad/param/to_gates.weight", ...
  double max_abs_error = 0;
  bool ok = true;
  std::string detail;  // on failure: where and by how much
};

struct ParityResult {
  std::string path;
  std::string module;
  bool ok = false;
  std::string error;  // set when the file could not be read or run
  std::vector<TensorComparison> comparisons;
};

ParityResult run_parity_fixture(const std::string& path, const ParityOptions& opt);
// Reads and validates a fixture without running it: the format, the metadata, the module
// name, and every config and call argument. Throws moegrad::Error (ConfigError for a bad
// argument) naming `source` or the key.
void check_parity_fixture(std::string_view bytes, const std::string& source);
// One line: PASS/FAIL, the file, and the worst error per tensor.
std::string format_parity_line(const ParityResult& r, const ParityOptions& opt);

}  // namespace moegrad::train
