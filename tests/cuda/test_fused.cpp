// geglu, geglu_backward, rms_norm, rms_norm_backward and adam_step: CUDA against the CPU.
// float32 GEGLU goes through the CPU's polynomial normal cdf/pdf (no libm), so it must be
// bitwise on a GPU too; float64 calls erf and exp.
#include <catch2/catch.hpp>

#include "moegrad/core/cuda/cuda_backend.h"
#include "tests/cuda/harness.h"

namespace moegrad::cuda_test {

namespace {
Check geglu_check(DType t) { return t == DType::f32 ? exact() : transcendental(); }
}  // namespace

TEST_CASE("geglu: with and without mult_bias, tails and NaN in the gate", "[cuda][geglu]") {
  for (DType t : float_dtypes())
    for (bool scaled : {false, true})
      for (int64_t rows : {int64_t{0}, int64_t{1}, int64_t{37}}) {
        const int64_t h = 29;
        Case c("geglu " + std::string(dtype_name(t)) + (scaled ? " scaled" : "") + " rows " + std::to_string(rows));
        const int x = c.input(t, contiguous({rows, 2 * h}), Values::special);
        const int bias = scaled ? c.input(t, contiguous({h})) : c.none();
        const int out = c.output(t, contiguous({rows, h}));
        const int cdf = c.output(t, contiguous({rows, h}));
        c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.geglu(ts[x], ts[bias], ts[out], ts[cdf]); },
              geglu_check(t));
      }
}

TEST_CASE("geglu_backward: column sums of the mult_bias gradient in the CPU's row blocks", "[cuda][geglu]") {
  for (DType t : float_dtypes())
    for (int mode = 0; mode < 3; ++mode)  // no mult_bias; mult_bias; mult_bias and its gradient
      // h = 29: 564 rows per block, so 1200 rows make three blocks.
      for (int64_t rows : {int64_t{0}, int64_t{5}, int64_t{1200}}) {
        const int64_t h = 29;
        Case c("geglu_backward " + std::string(dtype_name(t)) + " mode " + std::to_string(mode) + " rows " +
               std::to_string(rows));
        const int x = c.input(t, contiguous({rows, 2 * h}));
        const int cdf = c.input(t, contiguous({rows, h}), Values::positive);
        const int bias = mode > 0 ? c.input(t, contiguous({h})) : c.none();
        const int grad_out = c.input(t, contiguous({rows, h}));
        const int grad_x = c.output(t, contiguous({rows, 2 * h}));
        const int grad_bias = mode == 2 ? c.output(t, contiguous({h})) : c.none();
        c.run(
            [&](Backend& b, const std::vector<Tensor>& ts) {
              b.geglu_backward(ts[x], ts[cdf], ts[bias], ts[grad_out], ts[grad_x], ts[grad_bias]);
            },
            geglu_check(t));
      }
}

TEST_CASE("rms_norm and its backward: clamped and unclamped rows", "[cuda][rms_norm]") {
  for (DType t : float_dtypes())
    for (int64_t d : {int64_t{1}, int64_t{29}, int64_t{600}}) {
      const int64_t rows = 37;
      {
        Case c("rms_norm " + std::string(dtype_name(t)) + " d " + std::to_string(d));
        const int x = c.input(t, contiguous({rows, d}), Values::special);
        const int out = c.output(t, contiguous({rows, d}));
        const int inv = c.output(t, contiguous({rows}));
        c.run([&](Backend& b, const std::vector<Tensor>& ts) { b.rms_norm(ts[x], 3.0, 1.3, ts[out], ts[inv]); });
      }
      {
        // eps = 0.5: rows with inv_norm >= 2 (in [0.1, 3]) take the clamped formula.
        Case c("rms_norm_backward " + std::string(dtype_name(t)) + " d " + std::to_string(d));
        const int x = c.input(t, contiguous({rows, d}));
        const int inv = c.input(t, contiguous({rows}), Values::positive);
        const int g = c.input(t, contiguous({rows, d}));
        const int gx = c.output(t, contiguous({rows, d}));
        c.run([&](Backend& b, const std::vector<Tensor>& ts) {
          b.rms_norm_backward(ts[x], ts[inv], 0.5, 1.3, ts[g], ts[gx]);
        });
      }
    }
}

TEST_CASE("adam_step: Adam and AdamW, with and without weight decay and amsgrad", "[cuda][adam]") {
  for (DType t : float_dtypes())
    for (bool decoupled : {false, true})
      for (bool amsgrad : {false, true})
        for (double wd : {0.0, 0.01}) {
          Case c("adam_step " + std::string(dtype_name(t)) + (decoupled ? " adamw" : " adam") +
                 (amsgrad ? " amsgrad" : "") + " wd " + std::to_string(wd));
          const int64_t n = 1500;
          const int p = c.input(t, contiguous({n}));
          const int g = c.input(t, contiguous({n}));
          const int m = c.input(t, contiguous({n}));
          const int v = c.input(t, contiguous({n}), Values::positive);
          const int vmax = amsgrad ? c.input(t, contiguous({n}), Values::positive) : c.none();
          const AdamStep step{1e-3, 0.9, 0.999, 1e-8, wd, decoupled, amsgrad, 1 - 0.9 * 0.9, 1 - 0.999 * 0.999};
          c.run([&](Backend& b, const std::vector<Tensor>& ts) {
            b.adam_step(ts[p], ts[g], ts[m], ts[v], ts[vmax], step);
          });
        }
}

}  // namespace moegrad::cuda_test
