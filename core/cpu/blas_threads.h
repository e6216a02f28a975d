#pragma once
// The OpenBLAS thread count for the next gemm, between 1 and num_threads(): the matmul
// kernel picks it per product. Shares its state with set_num_threads (core/threading.h).
namespace moegrad::cpu {

void use_blas_threads(int n);

}  // namespace moegrad::cpu
