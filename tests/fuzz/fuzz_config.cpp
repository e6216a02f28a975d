// libFuzzer target: the YAML training-config loader with all of its validation.
#include <cstddef>
#include <cstdint>
#include <string>

#include "moegrad/train/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    moegrad::train::Config c =
        moegrad::train::parse_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml");
    // What loads must also write out and load back.
    moegrad::train::parse_config(moegrad::train::to_yaml(c), "resolved.yaml");
  } catch (const moegrad::Error&) {
  }
  return 0;
}
