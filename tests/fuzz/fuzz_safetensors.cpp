// libFuzzer target: the safetensors reader on arbitrary bytes. A moegrad::Error is the
// expected answer to a bad file; anything else (another exception, a sanitizer report, a
// hang) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "moegrad/nn/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    moegrad::nn::parse_safetensors(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const moegrad::Error&) {
  }
  return 0;
}
