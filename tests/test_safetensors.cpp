// safetensors: round trips, a file written by Python's safetensors, and hostile files
// that must each fail with a clear message (never a crash or an out-of-bounds read).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "moegrad/core/core.h"
#include "moegrad/nn/nn.h"

using namespace moegrad;
using namespace moegrad::nn;
namespace fs = std::filesystem;

namespace {
std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return s;
}
std::string file_with(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}
std::string error_of(const std::string& bytes) {
  try {
    parse_safetensors(bytes, "bad.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
fs::path temp_dir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("moegrad_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}
}  // namespace

TEST_CASE("safetensors round trip of every dtype, views and metadata", "[nn][safetensors]") {
  Generator gen(0);
  StateDict sd;
  sd.set("w32", randn({3, 4}, gen, DType::f32));
  sd.set("w64.T", core::transpose(randn({2, 5}, gen, DType::f64), 0, 1));  // non-contiguous
  sd.set("step", full({}, 42, DType::i64));
  sd.set("mask", from_vector(std::vector<bool>{true, false, true}));
  sd.set("empty", zeros({0, 3}));
  std::string bytes = serialize_safetensors(sd, {{"format", "pt"}});
  uint64_t header_len = 0;
  for (int i = 0; i < 8; ++i) header_len |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
  CHECK(header_len % 8 == 0);  // padded, so the data section starts 8-byte aligned
  SafetensorsContents back = parse_safetensors(bytes, "mem");
  CHECK(back.metadata.at("format") == "pt");
  REQUIRE(back.tensors.size() == sd.size());
  for (auto& [name, t] : sd) {
    INFO(name);
    const Tensor& u = back.tensors.at(name);
    CHECK(u.dtype() == t.dtype());
    CHECK(u.shape() == t.shape());
    CHECK(u.to_vector<double>() == t.to_vector<double>());
  }
}

TEST_CASE("reads a file written by Python's safetensors (torch)", "[nn][safetensors]") {
  SafetensorsContents f = load_safetensors(MOEGRAD_TEST_DATA_DIR "/torch_written.safetensors");
  CHECK(f.metadata.at("format") == "pt");
  CHECK(f.tensors.at("layers.0.weight").dtype() == DType::f32);
  CHECK(f.tensors.at("layers.0.weight").to_vector<double>() ==
        std::vector<double>{0, 0.25, 0.5, 0.75, 1.0, 1.25});
  CHECK(f.tensors.at("layers.0.bias").to_vector<double>() == std::vector<double>{-1.5, 2.25});
  CHECK(f.tensors.at("step").shape().empty());
  CHECK(f.tensors.at("step").item<int64_t>() == 7);
  CHECK(f.tensors.at("mask").to_vector<bool>() == std::vector<bool>{true, false, true});
  CHECK(f.tensors.at("empty").shape() == Shape{0, 4});
}

TEST_CASE("malformed safetensors files fail with a message naming the problem", "[nn][safetensors]") {
  const std::string ok_entry = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string eight(8, '\0');
  REQUIRE(error_of(file_with(ok_entry, eight)).empty());

  CHECK_THAT(error_of("abc"), Catch::Contains("too short"));
  CHECK_THAT(error_of(le64(1000) + ok_entry + eight), Catch::Contains("runs past the end"));
  CHECK_THAT(error_of(le64(uint64_t{1} << 62) + ok_entry), Catch::Contains("exceeds the limit"));
  CHECK_THAT(error_of(file_with("[1, 2]", "")), Catch::Contains("does not start with '{'"));
  CHECK_THAT(error_of(file_with("{\"a\": ", "")), Catch::Contains("not a JSON object"));
  CHECK_THAT(error_of(file_with(ok_entry, std::string(4, '\0'))),
             Catch::Contains("tensor 'a'") && Catch::Contains("outside the data section of 4 bytes"));
  CHECK_THAT(error_of(file_with(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", "1234")),
             Catch::Contains("dtype F16 is not supported"));
  CHECK_THAT(error_of(file_with(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight)),
             Catch::Contains("needs 12 bytes, data_offsets span 8"));
  CHECK_THAT(error_of(file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                std::string(12, '\0'))),
             Catch::Contains("overlaps"));
  CHECK_THAT(error_of(file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                                std::string(12, '\0'))),
             Catch::Contains("unused bytes [0, 4)"));
  CHECK_THAT(error_of(file_with(ok_entry, std::string(12, '\0'))), Catch::Contains("4 bytes after the last tensor"));
  CHECK_THAT(error_of(file_with(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight)),
             Catch::Contains("negative"));
  CHECK_THAT(error_of(file_with(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight)),
             Catch::Contains("outside the data section"));
  CHECK_THAT(error_of(file_with(R"({"a":{"dtype":"F32","shape":[2]}})", eight)),
             Catch::Contains("dtype, shape and data_offsets"));
  CHECK_THAT(error_of(file_with(R"({"a":{"dtype":"F32","shape":[4611686018427387904, 4],"data_offsets":[0,8]}})", eight)),
             Catch::Contains("more elements than a 64-bit count holds"));
  CHECK_THAT(error_of(file_with(R"({"m":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}})", "\x07")),
             Catch::Contains("BOOL byte"));
  CHECK_THAT(error_of(file_with(R"({"__metadata__":{"k":1}})", "")), Catch::Contains("not a string"));

  // Every prefix of a valid file is rejected cleanly.
  StateDict sd;
  sd.set("x", ones({3, 3}, DType::f64));
  const std::string good = serialize_safetensors(sd);
  for (size_t n = 0; n < good.size(); ++n) CHECK_FALSE(error_of(good.substr(0, n)).empty());
}

TEST_CASE("saves are atomic and a failed save leaves the old file", "[nn][safetensors]") {
  fs::path dir = temp_dir("atomic");
  const std::string path = (dir / "model.safetensors").string();
  StateDict v1, v2;
  v1.set("w", full({4}, 1.0));
  v2.set("w", full({4}, 2.0));
  save_safetensors(path, v1);
  save_safetensors(path, v2);
  CHECK(load_safetensors(path).tensors.at("w").to_vector<float>() == std::vector<float>{2, 2, 2, 2});
  // Only the file itself remains: no temporaries left behind.
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
  // A save that cannot happen says where, and the earlier checkpoint stays intact.
  CHECK_THROWS_WITH(save_safetensors((dir / "missing" / "m.safetensors").string(), v1),
                    Catch::Contains("missing/m.safetensors"));
  StateDict bad;
  bad.set("__metadata__", zeros({1}));
  CHECK_THROWS(save_safetensors(path, bad));
  CHECK(load_safetensors(path).tensors.at("w").to_vector<float>() == std::vector<float>{2, 2, 2, 2});
  CHECK_THROWS_WITH(load_safetensors((dir / "nope.safetensors").string()), Catch::Contains("nope.safetensors"));
  fs::remove_all(dir);
}

TEST_CASE("a module state dict saves and loads back into a fresh module", "[nn][safetensors]") {
  Generator g1(1), g2(2);
  Sequential a({std::make_shared<Linear>(3, 4, true, g1), std::make_shared<GELU>(),
                std::make_shared<Linear>(4, 2, false, g1)});
  Sequential b({std::make_shared<Linear>(3, 4, true, g2), std::make_shared<GELU>(),
                std::make_shared<Linear>(4, 2, false, g2)});
  fs::path dir = temp_dir("module");
  const std::string path = (dir / "seq.safetensors").string();
  save_safetensors(path, a.state_dict());
  b.load_state_dict(load_safetensors(path).tensors);
  Tensor x = ones({2, 3});
  CHECK(a.forward(x).to_vector<float>() == b.forward(x).to_vector<float>());
  // Another shape names each mismatching tensor.
  Sequential c({std::make_shared<Linear>(3, 5, true, g2), std::make_shared<GELU>(),
                std::make_shared<Linear>(5, 2, false, g2)});
  CHECK_THROWS_WITH(c.load_state_dict(load_safetensors(path).tensors),
                    Catch::Contains("0.weight (checkpoint [4, 3], model [5, 3])") &&
                        Catch::Contains("0.bias") && Catch::Contains("2.weight"));
  fs::remove_all(dir);
}

TEST_CASE("deeply nested JSON headers are refused before they are parsed", "[nn][safetensors]") {
  const std::string deep = "{\"__metadata__\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_THAT(error_of(file_with(deep, "")), Catch::Contains("header nests deeper than 32 levels of [ and {"));
  // Brackets inside strings are text, not nesting.
  const std::string quoted = R"({"__metadata__":{"k":")" + std::string(100, '[') + R"("}})";
  CHECK(parse_safetensors(file_with(quoted, ""), "ok").metadata.at("k") == std::string(100, '['));
}

TEST_CASE("a file of 50000 tensors parses, in header order of data offsets", "[nn][safetensors]") {
  // Parsing was quadratic in the tensor count (100k empty tensors took 32 s); a linear parse
  // takes well under a second. Zero-size tensors all start at offset 0.
  constexpr int kCount = 50000;
  std::string header = "{";
  for (int i = 0; i < kCount; ++i)
    header += (i ? "," : "") + str_cat("\"t", i, "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
  header += R"(,"last":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  SafetensorsContents f = parse_safetensors(file_with(header, std::string(4, '\0')), "many");
  CHECK(f.tensors.size() == kCount + 1);
  CHECK(f.tensors.contains("t49999"));
  CHECK((f.tensors.end() - 1)->first == "last");
  StateDict sd;
  for (int i = 0; i < kCount; ++i) sd.set(str_cat("p", i), f.tensors.at("last"));
  sd.set("p7", f.tensors.at("t0"));  // replacing keeps the position
  CHECK(sd.size() == kCount);
  CHECK((sd.begin() + 7)->second.numel() == 0);
}

TEST_CASE("shapes whose byte count wraps past 2^64 are refused", "[nn][safetensors]") {
  auto entry = [](const std::string& dtype, const std::string& shape, uint64_t end) {
    return str_cat(R"({"a":{"dtype":")", dtype, R"(","shape":)", shape, R"(,"data_offsets":[0,)", end, "]}}");
  };
  // Each of these once passed: the element count or the byte count wrapped to the data
  // length (0 or 8), and the tensor was read far past the end of its data.
  const struct {
    const char* dtype;
    const char* shape;
    uint64_t data_bytes;
  } wrapping[] = {
      {"F32", "[4611686018427387904]", 0},                 // 2^62 x 4 = 2^64
      {"F64", "[4611686018427387904]", 0},                 // 2^62 x 8
      {"I64", "[2305843009213693952]", 0},                 // 2^61 x 8
      {"F64", "[2305843009213693953]", 8},                 // (2^61 + 1) x 8 = 2^64 + 8
      {"F32", "[2147483648, 2147483648, 4]", 0},           // 2^31 x 2^31 x 4 elements
      {"F32", "[4294967296, 4294967296, 2]", 8},           // 2^65 elements x 4 + ... wraps
      {"BOOL", "[4294967296, 4294967297]", 0},             // 2^64 + 2^32 elements
      {"F32", "[1, 18446744073709551615]", 0},             // an entry past INT64_MAX
      {"F32", "[0, 9223372036854775808]", 0},              // empty, but the entry is negative as int64
      {"F32", "[0, 4294967296, 4294967296, 4]", 0},        // empty, but strides overflow
  };
  for (const auto& w : wrapping) {
    INFO(w.dtype << " " << w.shape);
    const std::string e = error_of(file_with(entry(w.dtype, w.shape, w.data_bytes), std::string(w.data_bytes, '\0')));
    CHECK_THAT(e, Catch::Contains("tensor 'a'") && Catch::Contains("shape"));
  }
  // The largest shapes that do fit are still read.
  CHECK(error_of(file_with(entry("F64", "[0, 9223372036854775807]", 0), "")).empty());
  CHECK(error_of(file_with(entry("F32", "[1, 2, 1]", 8), std::string(8, '\0'))).empty());
}

TEST_CASE("StateDict keeps insertion order, replaces in place and finds by name", "[nn][safetensors]") {
  StateDict sd;
  sd.set("b", full({1}, 1.0));
  sd.set("a", full({1}, 2.0));
  sd.set("b", full({1}, 3.0));
  REQUIRE(sd.size() == 2);
  CHECK(sd.begin()->first == "b");
  CHECK(sd.at("b").item<float>() == 3.0f);
  CHECK(sd.at("a").item<float>() == 2.0f);
  StateDict copy = sd;
  copy.set("c", full({1}, 4.0));
  CHECK(copy.at("c").item<float>() == 4.0f);
  CHECK_FALSE(sd.contains("c"));
  CHECK_THROWS_WITH(sd.at("zz"), Catch::Contains("'zz'"));
}
