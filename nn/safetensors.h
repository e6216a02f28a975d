#pragma once
// Hugging Face safetensors files: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the raw data.
// Reading treats the file as hostile: every length, offset, dtype and shape is checked
// before a byte of data is touched, and each problem is reported with the file and the
// tensor name. Writing is atomic: a temporary file in the same folder, fsync, rename.
#include <map>
#include <string>
#include <string_view>

#include "moegrad/core/file_read.h"
#include "moegrad/nn/state_dict.h"

namespace moegrad::nn {

using Metadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  StateDict tensors;  // in header order of their data offsets
  Metadata metadata;
};

// F32, F64, I64 and BOOL tensors, contiguous copies of the given ones.
std::string serialize_safetensors(const StateDict& tensors, const Metadata& metadata = {});
// `source` names the bytes in error messages (usually the file path).
SafetensorsContents parse_safetensors(std::string_view bytes, const std::string& source);

void save_safetensors(const std::string& path, const StateDict& tensors,
                      const Metadata& metadata = {});
SafetensorsContents load_safetensors(const std::string& path);

// Writes `bytes` to `path` atomically (temp file, fsync, rename, fsync of the folder).
void write_file_atomic(const std::string& path, std::string_view bytes);
// Bounded, regular files only (core/file_read.h).
using moegrad::read_file;

}  // namespace moegrad::nn
