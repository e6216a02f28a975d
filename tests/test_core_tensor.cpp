// core/ tensors: layout, views, creation, dtype conversion, printing and the seeded
// Generator. Expected values are worked out by hand (or by an independent
// implementation, for the random stream) in the comments beside them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "moegrad/core/core.h"

using namespace moegrad;
using Catch::Matchers::Contains;

namespace {

using Doubles = std::vector<double>;
using Ints = std::vector<int64_t>;

Doubles values(const Tensor& t) { return t.to_vector<double>(); }

// The message of the moegrad::Error that f throws; a marker when it throws none.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no moegrad::Error thrown>";
}

std::string printed(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

// [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]] in float64.
Tensor grid_3x4() { return core::view(arange(0.0, 12.0, 1.0, DType::f64), {3, 4}); }

}  // namespace

TEST_CASE("a fresh tensor is contiguous with row-major strides", "[core]") {
  Tensor t = empty({2, 3, 4});
  CHECK(t.dtype() == DType::f32);
  CHECK(t.dim() == 3);
  CHECK(t.numel() == 24);
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(t.strides() == Shape{12, 4, 1});
  CHECK(t.offset() == 0);
  CHECK(t.size(-1) == 4);
  CHECK(t.stride(0) == 12);
  CHECK(t.is_contiguous());
  CHECK_THAT(error_message([&] { t.size(3); }), Contains("size") && Contains("dim 3"));

  Tensor s = zeros({});  // 0-d: one element, no dims
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.is_contiguous());
  CHECK(s.item<double>() == 0.0);
}

TEST_CASE("views share storage: fill_ and copy_ through a view reach the base", "[core]") {
  Tensor base = grid_3x4();

  Tensor middle = core::narrow(base, 1, 1, 2);  // columns 1 and 2
  CHECK(middle.storage() == base.storage());
  CHECK(middle.shape() == Shape{3, 2});
  CHECK(middle.strides() == Shape{4, 1});
  CHECK(middle.offset() == 1);
  CHECK_FALSE(middle.is_contiguous());
  core::fill_(middle, -1.0);
  CHECK(values(base) == Doubles{0, -1, -1, 3, 4, -1, -1, 7, 8, -1, -1, 11});

  // Column 0 seen as a (1, 3) row of the transpose; {10, 20, 30} broadcasts into it.
  Tensor column0 = core::narrow(core::transpose(base, 0, 1), 0, 0, 1);
  CHECK(column0.shape() == Shape{1, 3});
  CHECK(column0.strides() == Shape{1, 4});
  core::copy_(column0, tensor({10, 20, 30}));
  CHECK(values(base) == Doubles{10, -1, -1, 3, 20, -1, -1, 7, 30, -1, -1, 11});
}

TEST_CASE("reshape copies a non-contiguous tensor, view refuses to", "[core]") {
  Tensor x = core::view(arange(0.0, 6.0, 1.0, DType::f64), {2, 3});  // [[0, 1, 2], [3, 4, 5]]
  Tensor t = core::transpose(x, 0, 1);                                // [[0, 3], [1, 4], [2, 5]]
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.strides() == Shape{1, 3});
  CHECK_FALSE(t.is_contiguous());

  Tensor r = core::reshape(t, {6});
  CHECK(values(r) == Doubles{0, 3, 1, 4, 2, 5});
  CHECK(r.storage() != x.storage());
  CHECK(r.is_contiguous());
  core::fill_(r, 7.0);  // a copy: the base is untouched
  CHECK(values(x) == Doubles{0, 1, 2, 3, 4, 5});

  std::string msg = error_message([&] { core::view(t, {6}); });
  CHECK_THAT(msg, Contains("view") && Contains("[3, 2]") && Contains("[6]"));

  // Where the strides allow it both are views of the same storage.
  Tensor v = core::view(x, {3, 2});
  Tensor w = core::reshape(x, {6, 1});
  CHECK(v.storage() == x.storage());
  CHECK(w.storage() == x.storage());
  CHECK(values(v) == Doubles{0, 1, 2, 3, 4, 5});
  // Splitting a dim of the transpose keeps its strides expressible: still a view.
  Tensor split_rows = core::view(t, {3, 2, 1});
  CHECK(split_rows.storage() == x.storage());
  CHECK(values(split_rows) == Doubles{0, 3, 1, 4, 2, 5});
}

TEST_CASE("reshape infers a single -1 dim", "[core]") {
  Tensor x = arange(24);
  CHECK(core::reshape(x, {2, -1, 4}).shape() == Shape{2, 3, 4});
  CHECK(core::reshape(x, {-1}).shape() == Shape{24});
  CHECK(core::reshape(core::view(x, {4, 6}), {-1, 8}).shape() == Shape{3, 8});
  CHECK_THAT(error_message([&] { core::reshape(x, {-1, -1}); }),
             Contains("reshape") && Contains("-1"));
  // 24 elements do not split into rows of 5.
  CHECK_THAT(error_message([&] { core::reshape(x, {5, -1}); }),
             Contains("reshape") && Contains("[24]"));
  CHECK_THAT(error_message([&] { core::reshape(x, {5, 5}); }),
             Contains("reshape") && Contains("[5, 5]") && Contains("[24]"));
}

TEST_CASE("permute and transpose reorder dims without copying", "[core]") {
  Tensor x = core::view(arange(24), {2, 3, 4});  // x[i][j][k] = 12i + 4j + k
  Tensor p = core::permute(x, {2, 0, 1});        // p[k][i][j] = x[i][j][k]
  CHECK(p.shape() == Shape{4, 2, 3});
  CHECK(p.strides() == Shape{1, 12, 4});
  CHECK(p.storage() == x.storage());
  Ints expected;
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 3; ++j) expected.push_back(12 * i + 4 * j + k);
  CHECK(p.to_vector<int64_t>() == expected);
  CHECK(core::permute(x, {-1, 0, 1}).to_vector<int64_t>() == expected);

  Tensor t = core::transpose(x, 0, -1);
  CHECK(t.shape() == Shape{4, 3, 2});
  CHECK(t.strides() == Shape{1, 4, 12});
  // t[0] is x[:, :, 0] transposed: [[0, 12], [4, 16], [8, 20]].
  CHECK(core::narrow(t, 0, 0, 1).to_vector<int64_t>() == Ints{0, 12, 4, 16, 8, 20});

  CHECK_THAT(error_message([&] { core::permute(x, {0, 0, 1}); }),
             Contains("permute") && Contains("repeated"));
  CHECK_THAT(error_message([&] { core::permute(x, {0, 1}); }),
             Contains("permute") && Contains("[2, 3, 4]"));
}

TEST_CASE("narrow and slice select ranges with negative, clamped and stepped bounds", "[core]") {
  Tensor x = arange(0.0, 10.0, 1.0, DType::f64);  // 0 .. 9
  CHECK(values(core::narrow(x, 0, 2, 3)) == Doubles{2, 3, 4});
  CHECK(values(core::narrow(x, 0, -3, 2)) == Doubles{7, 8});
  CHECK_THAT(error_message([&] { core::narrow(x, 0, 8, 3); }),
             Contains("narrow") && Contains("[10]"));

  CHECK(values(core::slice(x, 0, 1, 8, 3)) == Doubles{1, 4, 7});
  CHECK(values(core::slice(x, 0, 0, 10, 4)) == Doubles{0, 4, 8});
  CHECK(values(core::slice(x, 0, -3, 100)) == Doubles{7, 8, 9});   // x[-3:100]
  CHECK(values(core::slice(x, 0, -100, 2)) == Doubles{0, 1});      // x[-100:2]
  CHECK(values(core::slice(x, 0, 2, -5, 2)) == Doubles{2, 4});     // x[2:-5:2]
  CHECK(core::slice(x, 0, 5, 2).numel() == 0);                     // x[5:2]
  CHECK(core::slice(x, 0, 12, 20).numel() == 0);                   // x[12:20]
  CHECK_THAT(error_message([&] { core::slice(x, 0, 0, 5, 0); }),
             Contains("slice") && Contains("step"));

  Tensor g = grid_3x4();
  Tensor s = core::slice(g, -1, 1, 4, 2);  // g[:, 1:4:2]
  CHECK(s.shape() == Shape{3, 2});
  CHECK(s.strides() == Shape{4, 2});
  CHECK(s.offset() == 1);
  CHECK(values(s) == Doubles{1, 3, 5, 7, 9, 11});
}

TEST_CASE("expand broadcasts size-1 and new dims with stride 0", "[core]") {
  Tensor x = tensor({1, 2, 3}, {3, 1});
  Tensor e = core::expand(x, {2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.strides() == Shape{0, 1, 0});
  CHECK(e.storage() == x.storage());
  Doubles once{1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  Doubles twice = once;
  twice.insert(twice.end(), once.begin(), once.end());
  CHECK(values(e) == twice);

  Tensor kept = core::expand(x, {-1, 2});
  CHECK(kept.shape() == Shape{3, 2});
  CHECK(values(kept) == Doubles{1, 1, 2, 2, 3, 3});
  CHECK_THAT(error_message([&] { core::expand(x, {4, 4}); }),
             Contains("expand") && Contains("[3, 1]") && Contains("[4, 4]"));
}

TEST_CASE("squeeze, unsqueeze and flatten", "[core]") {
  Tensor x = zeros({1, 3, 1, 2});
  CHECK(core::squeeze(x).shape() == Shape{3, 2});
  CHECK(core::squeeze(x, 2).shape() == Shape{1, 3, 2});
  CHECK(core::squeeze(x, -4).shape() == Shape{3, 1, 2});
  CHECK(core::squeeze(x, 1).shape() == Shape{1, 3, 1, 2});  // size 3: left alone

  Tensor y = core::view(arange(6), {2, 3});
  Tensor u = core::unsqueeze(y, 1);
  CHECK(u.shape() == Shape{2, 1, 3});
  CHECK(u.storage() == y.storage());
  CHECK(u.is_contiguous());
  CHECK(core::unsqueeze(y, -1).shape() == Shape{2, 3, 1});
  CHECK(core::unsqueeze(y, 0).shape() == Shape{1, 2, 3});
  CHECK(core::unsqueeze(y, 2).shape() == Shape{2, 3, 1});
  CHECK_THAT(error_message([&] { core::unsqueeze(y, 3); }), Contains("unsqueeze"));

  Tensor f = core::flatten(core::transpose(y, 0, 1));
  CHECK(f.shape() == Shape{6});
  CHECK(f.to_vector<int64_t>() == Ints{0, 3, 1, 4, 2, 5});
  CHECK(core::flatten(scalar_tensor(4.0, DType::f64)).shape() == Shape{1});
}

TEST_CASE("contiguous copies only when needed; clone always copies", "[core]") {
  Tensor x = grid_3x4();
  CHECK(core::contiguous(x).same(x));

  Tensor t = core::transpose(x, 0, 1);
  Tensor c = core::contiguous(t);
  CHECK(c.is_contiguous());
  CHECK(c.storage() != x.storage());
  CHECK(c.strides() == Shape{3, 1});
  CHECK(values(c) == Doubles{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});

  Tensor k = core::clone(x);
  CHECK(k.storage() != x.storage());
  CHECK(values(k) == values(x));
  core::fill_(k, 0.0);
  CHECK(values(x) == Doubles{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
}

TEST_CASE("zeros, ones, full and the _like forms", "[core]") {
  Tensor z = zeros({2, 2});
  CHECK(z.dtype() == DType::f32);
  CHECK(values(z) == Doubles{0, 0, 0, 0});
  CHECK(ones({3}, DType::i64).to_vector<int64_t>() == Ints{1, 1, 1});
  CHECK(values(full({2}, 2.5, DType::f64)) == Doubles{2.5, 2.5});
  CHECK(full({2}, 1.0, DType::b8).to_vector<bool>() == std::vector<bool>{true, true});

  Tensor base = full({2, 3}, 4.0, DType::f64);
  Tensor zl = zeros_like(base);
  CHECK(zl.shape() == Shape{2, 3});
  CHECK(zl.dtype() == DType::f64);
  CHECK(values(zl) == Doubles(6, 0.0));
  CHECK(values(ones_like(base)) == Doubles(6, 1.0));
  CHECK(values(full_like(base, -2.0)) == Doubles(6, -2.0));

  Tensor s = scalar_tensor(3.5, DType::f32);
  CHECK(s.dim() == 0);
  CHECK(s.item<float>() == 3.5f);
}

TEST_CASE("arange: integer and float steps, negative steps, empty ranges", "[core]") {
  Tensor a = arange(5);
  CHECK(a.dtype() == DType::i64);
  CHECK(a.to_vector<int64_t>() == Ints{0, 1, 2, 3, 4});
  CHECK(values(arange(1.0, 2.0, 0.25, DType::f64)) == Doubles{1.0, 1.25, 1.5, 1.75});
  CHECK(arange(5.0, 0.0, -2.0).to_vector<int64_t>() == Ints{5, 3, 1});

  // (1 - 0) / 0.1 rounds to exactly 10 in double: ten values, 0.9 the last.
  Tensor tenths = arange(0.0, 1.0, 0.1, DType::f64);
  CHECK(tenths.numel() == 10);
  CHECK(values(tenths).back() == Approx(0.9).margin(1e-12));
  // 0.3 / 0.1 is 2.9999999999999996: still three values, 0.3 excluded.
  CHECK(arange(0.0, 0.3, 0.1, DType::f64).numel() == 3);

  CHECK(arange(3.0, 3.0).numel() == 0);
  CHECK(arange(3.0, 3.0).shape() == Shape{0});
  CHECK(arange(5.0, 0.0).numel() == 0);  // end below start with a positive step
  CHECK_THAT(error_message([] { arange(0.0, 1.0, 0.0); }),
             Contains("arange") && Contains("step"));
}

TEST_CASE("from_vector and tensor copy host values into a shape", "[core]") {
  Tensor a = from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(a.dtype() == DType::f32);
  CHECK(a.shape() == Shape{2, 3});
  CHECK(a.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 5, 6});

  Tensor i = from_vector(std::vector<int64_t>{-3, 7});
  CHECK(i.dtype() == DType::i64);
  CHECK(i.shape() == Shape{2});
  CHECK(i.to_vector<int64_t>() == Ints{-3, 7});

  Tensor b = from_vector(std::vector<bool>{true, false, true});
  CHECK(b.dtype() == DType::b8);
  CHECK(b.to_vector<bool>() == std::vector<bool>{true, false, true});

  Tensor t = tensor({1.5, -2.5, 3.5, 0.0}, {2, 2});
  CHECK(t.dtype() == DType::f64);
  CHECK(values(t) == Doubles{1.5, -2.5, 3.5, 0.0});
  // Converted on the way in: 2.9 truncates to 2 in int64.
  CHECK(from_vector(std::vector<double>{2.9, -2.9}, {2}, DType::i64).to_vector<int64_t>() ==
        Ints{2, -2});

  std::string msg = error_message([] { from_vector(std::vector<double>{1, 2, 3, 4, 5}, {2, 3}); });
  CHECK_THAT(msg, Contains("from_vector") && Contains("5") && Contains("[2, 3]"));
}

TEST_CASE("dtypes and to() conversions", "[core]") {
  CHECK(dtype_size(DType::f32) == 4);
  CHECK(dtype_size(DType::f64) == 8);
  CHECK(dtype_size(DType::i64) == 8);
  CHECK(dtype_size(DType::b8) == 1);
  CHECK(dtype_name(DType::b8) == "bool");

  Tensor x = tensor({-2.7, -0.5, 0.0, 0.5, 2.7});
  CHECK(core::to(x, DType::f64).same(x));  // already float64: the same tensor

  Tensor i = core::to(x, DType::i64);  // C++ conversion truncates toward zero
  CHECK(i.dtype() == DType::i64);
  CHECK(i.to_vector<int64_t>() == Ints{-2, 0, 0, 0, 2});

  Tensor b = core::to(x, DType::b8);  // non-zero is true
  CHECK(b.dtype() == DType::b8);
  CHECK(b.to_vector<bool>() == std::vector<bool>{true, true, false, true, true});
  CHECK(values(core::to(b, DType::f32)) == Doubles{1, 1, 0, 1, 1});
  CHECK(core::to(b, DType::i64).to_vector<int64_t>() == Ints{1, 1, 0, 1, 1});

  Tensor f = core::to(tensor({0.1}), DType::f32);
  CHECK(f.item<float>() == 0.1f);
  CHECK(f.item<double>() == static_cast<double>(0.1f));
  CHECK(core::to(arange(3), DType::f64).to_vector<double>() == Doubles{0, 1, 2});

  // A non-contiguous source converts in logical order.
  Tensor t = core::to(core::transpose(core::view(arange(6), {2, 3}), 0, 1), DType::f64);
  CHECK(values(t) == Doubles{0, 3, 1, 4, 2, 5});
}

TEST_CASE("operator<< shows dtype, shape and values and elides long axes", "[core]") {
  std::string small = printed(tensor({1.5, -2, 3, 4, 5, 6.25}, {2, 3}, DType::f32));
  CHECK_THAT(small, Contains("float32") && Contains("[2, 3]") && Contains("1.5") &&
                        Contains("-2") && Contains("6.25"));
  CHECK_THAT(small, !Contains("..."));

  std::string seven = printed(arange(7));
  CHECK_THAT(seven, Contains("int64") && Contains("[0, 1, 2, 3, 4, 5, 6]"));
  CHECK_THAT(seven, !Contains("..."));

  // As torch: up to print_options().threshold (1000) elements everything is shown.
  std::string twenty = printed(arange(20));
  CHECK_THAT(twenty, Contains("int64") && Contains("[20]") && Contains("8, 9, 10, 11") && !Contains("..."));
  std::string big = printed(arange(2000));
  CHECK_THAT(big, Contains("[0, 1, 2, ..., 1997, 1998, 1999]"));

  const PrintOptions defaults = print_options();
  set_print_options({.threshold = 10, .edgeitems = 2, .precision = 3});
  CHECK_THAT(printed(arange(20)), Contains("[0, 1, ..., 18, 19]"));
  CHECK_THAT(printed(zeros({10, 2}, DType::f64)), Contains("float64") && Contains("[10, 2]") && Contains("..."));
  CHECK_THAT(printed(scalar_tensor(3.14159, DType::f64)), Contains("3.14") && !Contains("3.141"));
  set_print_options({.threshold = 1 << 20});
  CHECK_THAT(printed(arange(2000)), Contains("999, 1000, 1001") && !Contains("..."));
  CHECK_THROWS_WITH(set_print_options({.edgeitems = 0}), Contains("set_print_options"));
  set_print_options(defaults);

  CHECK_THAT(printed(tensor({1, 0}, {2}, DType::b8)),
             Contains("bool") && Contains("[true, false]"));

  // A 0-d tensor prints its value in its own dtype's format.
  std::string big_int = printed(scalar_tensor(12345678.0, DType::i64));
  CHECK_THAT(big_int, Contains("int64") && Contains("shape=[]") && Contains("12345678"));
  CHECK_THAT(printed(scalar_tensor(1.0, DType::b8)), Contains("true"));

  // Printing a tensor leaves the caller's stream formatting as it was.
  std::ostringstream os;
  os << tensor({1.0 / 3.0}) << ' ' << 1.0 / 3.0;
  CHECK_THAT(os.str(), Contains(" 0.333333") && !Contains(" 0.33333333"));
}

TEST_CASE("Generator: a seed fixes the stream", "[core]") {
  Generator a(42), b(42), c(43);
  Doubles from_a = values(rand({16}, a, DType::f64));
  CHECK(from_a == values(rand({16}, b, DType::f64)));
  CHECK(from_a != values(rand({16}, c, DType::f64)));
  // The stream moves on: a second draw differs from the first.
  CHECK(from_a != values(rand({16}, a, DType::f64)));

  Generator d(42);
  d.manual_seed(43);
  Generator e(43);
  CHECK(d.next_u64() == e.next_u64());
}

TEST_CASE("Generator: seed 0 gives the pinned xoshiro256** stream", "[core]") {
  // Regression values that pin the platform-independent stream (splitmix64 seeding,
  // xoshiro256** output, top 24 / 53 bits scaled by 2^-24 / 2^-53, Box-Muller for normals).
  // They come from a separate Python implementation of the published algorithms; a change
  // here changes every seeded result in the project.
  Generator raw(0);
  CHECK(raw.next_u64() == 0x99ec5f36cb75f2b4ULL);
  CHECK(raw.next_u64() == 0xbf6e1f784956452aULL);
  CHECK(raw.next_u64() == 0x1a5f849d4933e6e0ULL);

  Generator g32(0);  // float32 uniforms are k * 2^-24: exact in float
  CHECK(rand({4}, g32).to_vector<float>() ==
        std::vector<float>{0.6012629866600037f, 0.747774064540863f, 0.10301995277404785f,
                           0.41658902168273926f});

  Generator g64(0);
  CHECK(values(rand({4}, g64, DType::f64)) ==
        Doubles{0.6012629994179048, 0.7477740925472398, 0.10301998939503632, 0.4165890778296456});

  // Normals go through log/cos/sin, which may differ in the last bit between libms.
  Generator gn(0);
  CHECK_THAT(values(randn({4}, gn, DType::f64)),
             Catch::Matchers::Approx(Doubles{-0.01896499060631051, -1.3559302271143727,
                                             -0.40372109705088766, 0.23335097938940202})
                 .margin(1e-12));
  Generator gn32(0);
  CHECK_THAT(values(randn({4}, gn32)),
             Catch::Matchers::Approx(Doubles{-0.018964990973472595, -1.355930209159851,
                                             -0.4037210941314697, 0.2333509773015976})
                 .margin(1e-6));
}

TEST_CASE("Generator: state()/set_state() replays the stream", "[core]") {
  Generator g(7);
  rand({3}, g);  // move away from the seeded state
  const Generator::State saved = g.state();
  Doubles first = values(randn({9}, g, DType::f64));
  Doubles then = values(rand({5}, g, DType::f64));

  g.set_state(saved);
  CHECK(values(randn({9}, g, DType::f64)) == first);
  CHECK(values(rand({5}, g, DType::f64)) == then);

  Generator other(1234);
  other.set_state(saved);
  CHECK(values(randn({9}, other, DType::f64)) == first);
}

TEST_CASE("Generator: uniform stays below high, never reaching it", "[core]") {
  Generator g(3);
  for (DType dt : {DType::f32, DType::f64}) {
    Doubles v = values(uniform({20000}, -2.0, 3.0, g, dt));
    double lo = *std::min_element(v.begin(), v.end());
    double hi = *std::max_element(v.begin(), v.end());
    CHECK(lo >= -2.0);
    CHECK(hi < 3.0);
    CHECK(lo < -1.99);  // and it reaches both ends
    CHECK(hi > 2.99);
  }
  CHECK_THAT(error_message([&] { uniform({2}, 1.0, 0.0, g); }), Contains("uniform"));
}

TEST_CASE("Generator: the largest possible draw stays below the upper bound", "[core]") {
  // xoshiro256** outputs rotl(s[1] * 5, 7) * 9, so s[1] = 5^-1 * rotr(9^-1 * ~0, 7)
  // (mod 2^64) makes the next output all ones: the largest draw of every kind.
  const Generator::State all_ones_next{0, 0x4fc71c71c71c71c7ULL, 0, 0};
  Generator g;
  g.set_state(all_ones_next);
  CHECK(g.next_u64() == ~0ULL);

  g.set_state(all_ones_next);
  const float top32 = rand({1}, g).item<float>();
  CHECK(top32 == 1.0f - 0x1.0p-24f);  // float32 rand never returns 1.0
  g.set_state(all_ones_next);
  CHECK(rand({1}, g, DType::f64).item<double>() == 1.0 - 0x1.0p-53);

  // low + (high - low) * u rounds up to high when the spacing near high exceeds
  // (high - low) * 2^-24 (float32) or 2^-53 (float64): here [1, 2) and [-3, -2).
  for (DType dt : {DType::f32, DType::f64}) {
    g.set_state(all_ones_next);
    CHECK(uniform({1}, 1.0, 2.0, g, dt).item<double>() < 2.0);
    g.set_state(all_ones_next);
    CHECK(uniform({1}, -3.0, -2.0, g, dt).item<double>() < -2.0);
  }
}

TEST_CASE("Generator: randn has mean 0 and std 1, normal shifts and scales", "[core]") {
  // 100k draws: the standard error of the mean is 0.0032, of the std about 0.0022.
  Generator g(2024);
  for (DType dt : {DType::f32, DType::f64}) {
    Doubles v = values(randn({100000}, g, dt));
    double s = 0, s2 = 0;
    for (double x : v) s += x;
    const double m = s / v.size();
    for (double x : v) s2 += (x - m) * (x - m);
    const double sd = std::sqrt(s2 / v.size());
    CHECK(std::abs(m) < 0.02);
    CHECK(std::abs(sd - 1.0) < 0.02);
  }
  Doubles v = values(normal({100000}, 3.0, 2.0, g, DType::f64));
  double s = 0, s2 = 0;
  for (double x : v) s += x;
  const double m = s / v.size();
  for (double x : v) s2 += (x - m) * (x - m);
  CHECK(m == Approx(3.0).margin(0.04));
  CHECK(std::sqrt(s2 / v.size()) == Approx(2.0).margin(0.04));
  // An odd count uses half of the last Box-Muller pair and still fills every element.
  Tensor odd = randn({3}, g, DType::f64);
  for (double x : values(odd)) CHECK(std::isfinite(x));
}
