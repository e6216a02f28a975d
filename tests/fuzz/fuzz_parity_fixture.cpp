// libFuzzer target: the moe-parity/1 fixture loader (safetensors, metadata JSON, module
// configs and call arguments, validated; the module is not run).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "moegrad/train/parity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    moegrad::train::check_parity_fixture(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const moegrad::Error&) {
  }
  return 0;
}
