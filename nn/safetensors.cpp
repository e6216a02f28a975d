#include "moegrad/nn/safetensors.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "moegrad/core/core.h"
#include "moegrad/nn/json_depth.h"

namespace moegrad::nn {

namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeader = 100'000'000;

const char* safetensors_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i64: return "I64";
    case DType::b8: return "BOOL";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType& out) {
  if (s == "F32") out = DType::f32;
  else if (s == "F64") out = DType::f64;
  else if (s == "I64") out = DType::i64;
  else if (s == "BOOL") out = DType::b8;
  else return false;
  return true;
}

[[noreturn]] void fail(const std::string& source, const std::string& what) {
  throw Error("safetensors: " + source + ": " + what);
}

// Raw little-endian bytes of a contiguous host copy (x86-64 and aarch64 are little-endian).
std::string tensor_bytes(const Tensor& t) {
  std::string out(t.numel() * dtype_size(t.dtype()), '\0');
  Tensor c = core::contiguous(t);
  if (!out.empty()) c.backend().copy_to_host(out.data(), c.raw_data(), out.size());
  return out;
}

}  // namespace

std::string serialize_safetensors(const StateDict& tensors, const Metadata& metadata) {
  // Larger elements first, so that every tensor's data stays aligned to its element size.
  std::vector<const StateDict::Entry*> order;
  for (const auto& e : tensors) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](auto* a, auto* b) {
    return dtype_size(a->second.dtype()) > dtype_size(b->second.dtype());
  });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t at = 0;
  std::string data;
  for (const auto* e : order) {
    MOEGRAD_CHECK(e->first != "__metadata__", "safetensors: '__metadata__' cannot name a tensor");
    std::string bytes = tensor_bytes(e->second);
    header[e->first] = {{"dtype", safetensors_dtype(e->second.dtype())},
                        {"shape", e->second.shape()},
                        {"data_offsets", {at, at + bytes.size()}}};
    at += bytes.size();
    data += bytes;
  }
  std::string h = header.dump();
  // Pad with spaces to a multiple of 8 so the data section starts aligned.
  h.append((8 - (8 + h.size()) % 8) % 8, ' ');
  std::string out(8, '\0');
  const uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + h + data;
}

SafetensorsContents parse_safetensors(std::string_view bytes, const std::string& source) {
  if (bytes.size() < 8)
    fail(source, str_cat("file is ", bytes.size(), " bytes, too short for the 8-byte header length"));
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])) << (8 * i);
  if (n > kMaxHeader) fail(source, str_cat("header length ", n, " exceeds the limit of ", kMaxHeader));
  if (n > bytes.size() - 8)
    fail(source, str_cat("header length ", n, " runs past the end of the file (", bytes.size() - 8,
                         " bytes after the length)"));
  const std::string_view header_text = bytes.substr(8, n);
  if (n == 0 || header_text[0] != '{') fail(source, "header does not start with '{'");
  if (std::string why = json_nesting_problem(header_text, kMaxJsonDepth); !why.empty()) fail(source, "header " + why);
  json header = json::parse(header_text, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) fail(source, "header is not a JSON object");
  const std::string_view data = bytes.substr(8 + n);

  SafetensorsContents out;
  struct Span {
    uint64_t begin, end;
    size_t tensor;  // index into loaded
  };
  std::vector<Span> spans;
  std::vector<std::pair<std::string, Tensor>> loaded;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail(source, "__metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail(source, "__metadata__ value '" + m.key() + "' is not a string");
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor '" + name + "'";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      fail(source, where + ": expected an object with dtype, shape and data_offsets");
    if (!v["dtype"].is_string()) fail(source, where + ": dtype is not a string");
    DType dtype;
    const std::string ds = v["dtype"].get<std::string>();
    if (!parse_dtype(ds, dtype))
      fail(source, where + ": dtype " + ds + " is not supported (expected F32, F64, I64 or BOOL)");
    if (!v["shape"].is_array()) fail(source, where + ": shape is not a list");
    Shape shape;
    // Checked in uint64 so that no product wraps: each entry must fit int64 (Shape's type),
    // and so must the product of the non-zero entries (it sizes the strides even when the
    // tensor is empty).
    uint64_t numel = 1, nonzero = 1;
    for (const json& d : v["shape"]) {
      if (!d.is_number_unsigned()) fail(source, where + ": shape has a non-integer or negative entry");
      const uint64_t s = d.get<uint64_t>();
      constexpr uint64_t kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
      if (s > kMax || (s > 0 && (__builtin_mul_overflow(nonzero, s, &nonzero) || nonzero > kMax)))
        fail(source, str_cat(where, ": shape ", v["shape"].dump(), " has more elements than a 64-bit count holds"));
      numel *= s;  // <= nonzero, so it cannot wrap
      shape.push_back(static_cast<int64_t>(s));
    }
    const json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      fail(source, where + ": data_offsets must be two non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (begin > end || end > data.size())
      fail(source, str_cat(where, ": data_offsets [", begin, ", ", end,
                           "] are outside the data section of ", data.size(), " bytes"));
    // numel * element size can wrap past 2^64 (F32 [2^62] "needs" 0 bytes): compare checked.
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(dtype_size(dtype)), &nbytes) ||
        nbytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(source, str_cat(where, ": shape ", v["shape"].dump(), " of ", ds, " needs more bytes than a 64-bit count holds"));
    if (nbytes != end - begin)
      fail(source, str_cat(where, ": ", ds, " ", shape, " needs ", nbytes, " bytes, data_offsets span ", end - begin));
    spans.push_back({begin, end, loaded.size()});
    Tensor t = empty(shape, dtype);
    if (numel) t.backend().copy_from_host(t.raw_data(), data.data() + begin, end - begin);
    if (dtype == DType::b8) {
      for (uint64_t i = 0; i < numel; ++i)
        if (static_cast<unsigned char>(data[begin + i]) > 1) fail(source, where + ": BOOL byte is not 0 or 1");
    }
    loaded.emplace_back(name, t);
  }
  // The data section must be tiled exactly: no overlaps, no holes, nothing after the end.
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t at = 0;
  for (const Span& s : spans) {
    const std::string& name = loaded[s.tensor].first;
    if (s.begin < at) fail(source, "tensor '" + name + "': data overlaps the previous tensor's");
    if (s.begin > at) fail(source, str_cat("tensor '", name, "': unused bytes [", at, ", ", s.begin,
                                           ") before its data"));
    at = s.end;
  }
  if (at != data.size())
    fail(source, str_cat("data section has ", data.size() - at, " bytes after the last tensor"));
  for (const Span& s : spans) out.tensors.set(loaded[s.tensor].first, loaded[s.tensor].second);
  return out;
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  // A hidden sibling: same file system, so the rename is atomic.
  std::string tmp_name = ".";
  tmp_name += target.filename().string();
  tmp_name += ".tmp.";
  tmp_name += std::to_string(getpid());
  const std::string tmp = (dir / tmp_name).string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(str_cat("cannot write ", path, ": ", std::strerror(errno)));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(str_cat("cannot write ", path, ": ", std::strerror(err)));
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(str_cat("cannot write ", path, ": ", std::strerror(err)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(str_cat("cannot write ", path, ": ", std::strerror(err)));
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}


void save_safetensors(const std::string& path, const StateDict& tensors, const Metadata& metadata) {
  write_file_atomic(path, serialize_safetensors(tensors, metadata));
}

SafetensorsContents load_safetensors(const std::string& path) {
  return parse_safetensors(read_file(path), path);
}

}  // namespace moegrad::nn
